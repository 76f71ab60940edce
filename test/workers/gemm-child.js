// Runs the GEMM checks in a process whose ISA and thread count come from the environment.
import { runtimeInfo } from '../../dist/index.js';
import { runAll } from '../gemm-checks.js';

const seed = Number(process.argv[2]);
process.stdout.write(JSON.stringify({ isa: runtimeInfo().cpuIsa, threads: runtimeInfo().threads, errors: runAll(seed) }));
