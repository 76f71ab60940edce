// Install time of the packed tarball into an empty project: with the prebuild and no compiler
// on PATH, against the same package without prebuilds/ plus the build from source a user then
// runs. Also the tarball's size and each binary's size. Dependencies come from npm's cache
// (--prefer-offline) in both runs, so the difference is our addon.
//
//   node bench/install.mjs [--json FILE]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bareBin, bareEnv, emptyProject, installTarball, npm, pack, stagePackage } from '../test/package-helpers.js';

const mib = (b) => `${(b / 2 ** 20).toFixed(2)} MiB`;
const packDir = mkdtempSync(join(tmpdir(), 'gmai-bench-pack-'));
const cleanup = [packDir];
const result = { node: process.version, date: new Date().toISOString() };
try {
  // 1. The published shape: prebuild inside, no compiler on PATH.
  const withPre = stagePackage();
  cleanup.push(withPre.dir);
  const tarball = pack(withPre.dir, packDir);
  result.prebuildSource = withPre.prebuildSource;
  result.tarballBytes = tarball.size;
  result.unpackedBytes = tarball.unpackedSize;
  result.binaries = tarball.files.filter((f) => f.path.endsWith('.node')).map((f) => ({ path: f.path, bytes: f.size }));
  const bin = bareBin();
  cleanup.push(bin);
  const p1 = emptyProject();
  cleanup.push(p1);
  const i1 = installTarball(p1, tarball.path, bareEnv(bin));
  if (i1.status !== 0) throw new Error(`install with the prebuild failed:\n${i1.stderr}`);
  result.installPrebuiltSeconds = i1.seconds;

  // 2. No prebuild: install, then compile from source (the compiler on PATH).
  const noPre = stagePackage({ withPrebuild: false });
  cleanup.push(noPre.dir);
  const dest2 = mkdtempSync(join(tmpdir(), 'gmai-bench-pack2-'));
  cleanup.push(dest2);
  const tarball2 = pack(noPre.dir, dest2);
  const p2 = emptyProject();
  cleanup.push(p2);
  const i2 = installTarball(p2, tarball2.path, process.env);
  if (i2.status !== 0) throw new Error(`install without the prebuild failed:\n${i2.stderr}`);
  const t0 = process.hrtime.bigint();
  const build = npm(['explore', 'gmai-vl-r1', '--', 'npm', 'run', 'build:native'], { cwd: p2 });
  if (build.status !== 0) throw new Error(`build from source failed:\n${build.stderr.slice(-2000)}`);
  result.installNoPrebuildSeconds = i2.seconds;
  result.buildFromSourceSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const built = join(p2, 'node_modules', 'gmai-vl-r1', 'build', 'Release', 'gmai.node');
  result.localBuildBytes = statSync(built).size;
  const info = spawnSync(process.execPath, [join(p2, 'node_modules', 'gmai-vl-r1', 'bin', 'gmai.js'), 'info'], { cwd: p2, encoding: 'utf8' });
  result.localBuildInfo = info.stdout.split('\n')[0];
} finally {
  for (const d of cleanup) rmSync(d, { recursive: true, force: true });
}

console.log(`tarball ${mib(result.tarballBytes)} packed, ${mib(result.unpackedBytes)} unpacked (prebuild from ${result.prebuildSource})`);
for (const b of result.binaries) console.log(`  ${b.path}: ${mib(b.bytes)}`);
console.log(`install with the prebuild, no compiler:     ${result.installPrebuiltSeconds.toFixed(1)} s`);
console.log(`install without it + build from source:     ${result.installNoPrebuildSeconds.toFixed(1)} s + ${result.buildFromSourceSeconds.toFixed(1)} s ` +
  `(local build ${mib(result.localBuildBytes)}; ${result.localBuildInfo})`);
const jsonAt = process.argv.indexOf('--json');
if (jsonAt > 0) writeFileSync(process.argv[jsonAt + 1], JSON.stringify(result, null, 2) + '\n');
