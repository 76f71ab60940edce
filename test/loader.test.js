// The addon loader: the CUDA test load in a child process (a crash there is reported, not
// suffered), the one-line reason for the backend, and GMAI_DEVICE handling.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { probeCuda } from '../dist/loader.js';
import { addonInfo } from '../dist/native.js';

const dir = mkdtempSync(join(tmpdir(), 'gmai-loader-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

test('a candidate that crashes while loading is reported, and this process lives on', (t) => {
  // Stands in for a CUDA binary that segfaults in its initialiser (a driver mismatch).
  const crash = join(dir, 'crash.cjs');
  writeFileSync(crash, "process.kill(process.pid, 'SIGSEGV');");
  t.deepEqual(probeCuda(crash), { ok: false, error: 'killed by SIGSEGV' });
});

test('a candidate that fails to load is reported with its error', (t) => {
  const bad = join(dir, 'bad.node');
  writeFileSync(bad, 'not an ELF file');
  const r = probeCuda(bad);
  t.false(r.ok);
  t.regex(r.error, /exit code 1: .*(invalid ELF header|Error)/);
});

test('the CPU binary passes a test load and reports no GPU', (t) => {
  t.deepEqual(probeCuda(addonInfo().path), { ok: true, gpus: [] });
});

test('the live backend comes with a one-line reason', (t) => {
  const { variant, reason } = addonInfo();
  t.is(variant, 'cpu');
  t.regex(reason, /^cpu: (local build build\/Release\/gmai\.node|prebuilt binary prebuilds\/[^ ]+) \(.+\)$/);
  t.false(reason.includes('\n'));
});

const loadWith = (env) => spawnSync(process.execPath, ['--input-type=module', '-e',
  "import { runtimeInfo } from './dist/index.js'; console.log(runtimeInfo().backendReason)"],
{ encoding: 'utf8', env: { ...process.env, ...env } });

test('GMAI_DEVICE=cpu says so; a bad GMAI_DEVICE is refused by name', (t) => {
  t.regex(loadWith({ GMAI_DEVICE: 'cpu' }).stdout, /^cpu: .*\(GMAI_DEVICE=cpu\)\n$/);
  const bad = loadWith({ GMAI_DEVICE: 'gpu' });
  t.not(bad.status, 0);
  t.regex(bad.stderr, /GMAI_DEVICE must be cpu, cuda or auto \(got 'gpu'\)/);
});

test('GMAI_DEVICE=cuda without a usable CUDA binary fails with the reason', (t) => {
  const r = loadWith({ GMAI_DEVICE: 'cuda' });
  if (r.status === 0) {
    t.regex(r.stdout, /^cuda: /, 'a CUDA binary and a GPU are present');
    return;
  }
  t.regex(r.stderr, /GMAI_DEVICE=cuda, but .*(not installed|no gmai_cuda\.node|no GPU|failed its test load)/);
});

test('GMAI_ADDON picks an explicit binary, and a missing one is named', (t) => {
  const ok = loadWith({ GMAI_ADDON: addonInfo().path, GMAI_DEVICE: 'cpu' });
  t.regex(ok.stdout, new RegExp(`^cpu: GMAI_ADDON=${addonInfo().path.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} `));
  const missing = loadWith({ GMAI_ADDON: join(dir, 'nope.node'), GMAI_DEVICE: 'cpu' });
  t.not(missing.status, 0);
  t.regex(missing.stderr, /GMAI_ADDON=.*nope\.node: no such file/);
});
