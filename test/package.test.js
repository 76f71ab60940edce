// The npm package as users get it: the tarball `npm pack` makes, installed into an empty
// project with no compiler on PATH, must run an inference and `gmai info`; its contents are
// what `files` admits and nothing else (no tests, fixtures or benchmark results); it declares
// no install script; and its size stays within bounds.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';
import { bareBin, bareEnv, emptyProject, installTarball, pack, pkg, platformDir, root, stagePackage } from './package-helpers.js';

const MAX_TARBALL_BYTES = 3 << 20;     // packed (0.6 MiB in Dec 2026); the prebuild is most of it
const MAX_UNPACKED_BYTES = 8 << 20;    // (2.0 MiB in Dec 2026)

const stage = stagePackage();
const packDir = mkdtempSync(join(tmpdir(), 'gmai-pack-'));
const tarball = pack(stage.dir, packDir);
const files = tarball.files.map((f) => f.path);
test.after.always(() => {
  rmSync(stage.dir, { recursive: true, force: true });
  rmSync(packDir, { recursive: true, force: true });
});

test('the tarball holds dist, the prebuild, native sources and build files, README and LICENSE', (t) => {
  t.log(`prebuild from ${stage.prebuildSource}; ${files.length} files`);
  for (const f of ['package.json', 'README.md', 'LICENSE', 'dist/index.js', 'dist/index.d.ts', 'dist/cli/main.js', 'bin/gmai.js',
    'binding.gyp', 'CMakeLists.txt', 'native/include/gmai/ops.h', 'native/addon/addon.cc',
    'scripts/build-native.mjs']) {  // what `npm run build:native` runs (a build from source when asked)
    t.true(files.includes(f), `${f} is in the tarball`);
  }
  t.true(files.some((f) => f.startsWith(`prebuilds/${platformDir}/`) && f.endsWith('.node')), `a prebuild for ${platformDir}`);
  t.true(files.some((f) => /^native\/cpu\/.+\.cpp$/.test(f)), 'CPU kernel sources');
  t.true(files.some((f) => /^native\/cuda\/.+\.cu$/.test(f)), 'CUDA kernel sources');
});

test('the tarball holds no tests, fixtures, benchmark results, local builds or CI files', (t) => {
  const unwanted = files.filter((f) => /^(test|bench|build|build-cuda|examples|docs|\.ci|packages|node_modules)\//.test(f) ||
    (f.startsWith('scripts/') && f !== 'scripts/build-native.mjs') ||
    /fixtures|\.test\.[jt]s$|RESULTS\.md$|\.tgz$/.test(f));
  t.deepEqual(unwanted, []);
});

test('the packed package.json has no install script and turns off the implicit node-gyp one', (t) => {
  const packed = JSON.parse(readFileSync(join(stage.dir, 'package.json'), 'utf8'));
  for (const s of ['preinstall', 'install', 'postinstall']) t.is(packed.scripts?.[s], undefined, `no ${s} script`);
  // With binding.gyp in the package and no install script, npm would add `node-gyp rebuild`.
  t.is(packed.gypfile, false);
  t.is(packed.optionalDependencies?.['@gmai-vl-r1/linux-x64-cuda'], packed.version, 'the CUDA package is pinned to this version');
});

test('the tarball and its binaries stay within size bounds', (t) => {
  const binaries = tarball.files.filter((f) => f.path.endsWith('.node'));
  t.log(`tarball ${(tarball.size / 2 ** 20).toFixed(2)} MiB packed, ${(tarball.unpackedSize / 2 ** 20).toFixed(2)} MiB unpacked; ` +
    binaries.map((b) => `${b.path} ${(b.size / 2 ** 20).toFixed(2)} MiB`).join(', '));
  t.is(statSync(tarball.path).size, tarball.size);
  t.true(tarball.size < MAX_TARBALL_BYTES, `packed ${tarball.size} B < ${MAX_TARBALL_BYTES} B`);
  t.true(tarball.unpackedSize < MAX_UNPACKED_BYTES, `unpacked ${tarball.unpackedSize} B < ${MAX_UNPACKED_BYTES} B`);
});

test('publint (strict) finds nothing in the tarball', async (t) => {
  const bytes = readFileSync(tarball.path);
  const { messages, pkg: packed } = await publint({ strict: true, pack: { tarball: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) } });
  t.deepEqual(messages.map((m) => formatMessage(m, packed) ?? m.code), []);
});

test('@arethetypeswrong/cli finds no type resolution problem in the tarball', (t) => {
  // The package is ESM only: CommonJS loads it with require(esm) (Node >= 20.19 / 22.12; the
  // install test below does), which attw reports as CJSResolvesToESM, so that rule is off.
  const attw = join(root, 'node_modules', '@arethetypeswrong', 'cli', 'dist', 'index.js');
  const r = spawnSync(process.execPath, [attw, tarball.path, '--ignore-rules', 'cjs-resolves-to-esm', '--format', 'table-flipped'], { encoding: 'utf8' });
  t.is(r.status, 0, r.stdout + r.stderr);
});

test('the CUDA variant package is a workspace with this version, for linux x64 glibc', (t) => {
  const cuda = JSON.parse(readFileSync(new URL('../packages/linux-x64-cuda/package.json', import.meta.url), 'utf8'));
  t.is(cuda.name, '@gmai-vl-r1/linux-x64-cuda');
  t.is(cuda.version, pkg.version);
  t.deepEqual([cuda.os, cuda.cpu, cuda.libc], [['linux'], ['x64'], ['glibc']]);
  t.deepEqual(cuda.files, ['gmai_cuda.node']);
  t.true(pkg.workspaces.includes('packages/*'));
});

test.serial('installed from the tarball with no compiler on PATH, it runs an inference and gmai info', (t) => {
  const project = emptyProject();
  const bin = bareBin();
  t.teardown(() => { rmSync(project, { recursive: true, force: true }); rmSync(bin, { recursive: true, force: true }); });
  const env = bareEnv(bin);
  for (const tool of ['cc', 'gcc', 'g++', 'c++', 'make', 'python3']) {
    t.is(spawnSync('/bin/sh', ['-c', `command -v ${tool}`], { env }).status === 0, false, `${tool} is not on PATH`);
  }
  const install = installTarball(project, tarball.path, env);
  t.log(`npm install of the tarball: ${install.seconds.toFixed(1)} s`);
  t.is(install.status, 0, install.stderr);
  t.false(/node-gyp|gyp info|prebuild-install|node-gyp-build/.test(install.stdout + install.stderr), 'nothing compiles at install');
  const installed = join(project, 'node_modules', 'gmai-vl-r1');
  t.false(existsSync(join(installed, 'build')), 'no local build in the installed package');

  const gmai = join(project, 'node_modules', '.bin', 'gmai');
  const info = spawnSync(gmai, ['info'], { cwd: project, env, encoding: 'utf8' });
  t.is(info.status, 0, info.stderr);
  t.log(info.stdout.trim());
  t.regex(info.stdout, new RegExp(`backend: +cpu: prebuilt binary prebuilds/${platformDir}/`));

  const demo = spawnSync(gmai, ['demo', '--max-tokens', '8'], { cwd: project, env, encoding: 'utf8', timeout: 240_000 });
  t.is(demo.status, 0, demo.stderr);
  t.regex(demo.stdout, /parsed: letter=/);
  t.regex(demo.stdout, /timings: preprocess \d+ ms, first token \d+ ms, \d+ tokens/);

  // The public API from ESM, and from CommonJS through require(esm) where this node has it.
  const esm = spawnSync('node', ['--input-type=module', '-e',
    "import * as g from 'gmai-vl-r1'; console.log(typeof g.loadModel, typeof g.writeTinyModel, g.runtimeInfo().backends.join())"],
  { cwd: project, env, encoding: 'utf8' });
  t.is(esm.status, 0, esm.stderr);
  t.is(esm.stdout.trim(), 'function function cpu');
  if (process.features.require_module) {
    const cjs = spawnSync('node', ['--no-warnings', '-e', "const g = require('gmai-vl-r1'); console.log(typeof g.askImage, typeof g.Tensor)"],
      { cwd: project, env, encoding: 'utf8' });
    t.is(cjs.status, 0, cjs.stderr);
    t.is(cjs.stdout.trim(), 'function function');
  }
});
