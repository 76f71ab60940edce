// Builds the CPU addon from source with node-gyp (npm's own copy; needs python3, make and a
// C++17 compiler). `prepare` runs it with --if-missing, so a git checkout's `npm install` builds
// the addon only when no usable binary (a local build or a matching prebuild) is there yet.
// GMAI_BUILD_FROM_SOURCE=1 (or npm's --build-from-source) forces a build.
// The published package has no install script: it ships prebuilds/ and never runs this.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const forced = process.env.GMAI_BUILD_FROM_SOURCE === '1' || process.env.npm_config_build_from_source === 'true';

/** Path of a binary node-gyp-build would load and that does load here, else undefined. */
function usableBinary() {
  try {
    const path = require('node-gyp-build').resolve(root);
    require(path);
    return path;
  } catch {
    return undefined;
  }
}

if (process.argv.includes('--if-missing') && !forced) {
  const found = usableBinary();
  if (found) {
    console.log(`gmai-vl-r1: native addon present (${found}); not compiling (GMAI_BUILD_FROM_SOURCE=1 forces it)`);
    process.exit(0);
  }
}
// npm sets npm_config_node_gyp to its bundled node-gyp; outside npm, node-gyp on PATH.
const gyp = process.env.npm_config_node_gyp;
const [cmd, args] = gyp ? [process.execPath, [gyp]] : ['node-gyp', []];
const jobs = String(Math.min(availableParallelism(), 8));
console.log(`gmai-vl-r1: compiling the native addon (node-gyp rebuild -j ${jobs})`);
const r = spawnSync(cmd, [...args, 'rebuild', '-j', jobs], { cwd: root, stdio: 'inherit' });
if (r.status !== 0) {
  console.error('gmai-vl-r1: the native build failed; it needs python3, make and a C++17 compiler (see docs/installation.md)');
  process.exit(r.status ?? 1);
}
