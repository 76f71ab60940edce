// Packing and installing the package the way a user gets it: `npm pack` of a staged copy of
// what package.json's `files` admits, then `npm install TARBALL` into an empty project with a
// PATH that holds only node and npm (no compiler, make or python3).
// Used by test/package.test.js and bench/install.mjs.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, rmSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
export const platformDir = `${process.platform}-${process.arch}`;
const npmCli = join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js');

/** npm's own CLI run by this node (no PATH lookup). */
export function npm(args, opts = {}) {
  const cli = existsSync(npmCli) ? npmCli : execFileSync('sh', ['-c', 'readlink -f "$(command -v npm)"'], { encoding: 'utf8' }).trim();
  return spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
}

/**
 * Copies what `files` admits into a fresh folder. When the checkout has no prebuilds/ for this
 * platform (a git clone: prebuilds/ is built by `npm run prebuildify` at release time), the local
 * build stands in as the prebuild, under the name prebuildify gives it; `prebuildSource` says which.
 */
export function stagePackage({ withPrebuild = true } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'gmai-stage-'));
  for (const f of ['package.json', 'README.md', 'LICENSE', ...pkg.files]) {
    const from = join(root, f);
    if (existsSync(from)) cpSync(from, join(dir, f), { recursive: true });
  }
  let prebuildSource = 'none';
  const pre = join(dir, 'prebuilds', platformDir);
  if (!withPrebuild) {
    rmSync(join(dir, 'prebuilds'), { recursive: true, force: true });
  } else if (existsSync(pre) && readdirSync(pre).some((f) => f.endsWith('.node'))) {
    prebuildSource = `prebuilds/${platformDir} (npm run prebuildify)`;
  } else {
    const local = join(root, 'build', 'Release', 'gmai.node');
    if (!existsSync(local)) throw new Error(`no prebuild and no local build (${local}): run npm run build:native first`);
    mkdirSync(pre, { recursive: true });
    cpSync(local, join(pre, `${pkg.name}.glibc.node`));
    prebuildSource = 'build/Release/gmai.node (no prebuilds/ in this checkout)';
  }
  return { dir, prebuildSource };
}

/** `npm pack` of a staged folder (no scripts: dist/ is already compiled). */
export function pack(stageDir, dest) {
  const r = npm(['pack', '--ignore-scripts', '--json', '--pack-destination', dest], { cwd: stageDir });
  if (r.status !== 0) throw new Error(`npm pack failed:\n${r.stderr}`);
  const [info] = JSON.parse(r.stdout);
  return { ...info, path: join(dest, info.filename) };
}

/** Shell tools any machine has (npm runs scripts with sh); no compiler, make or python3 among them. */
const BASE_TOOLS = ['sh', 'bash', 'env', 'uname', 'cat', 'ls', 'mkdir', 'rm', 'cp', 'mv', 'ln', 'chmod', 'grep', 'sed',
  'tar', 'gzip', 'id', 'dirname', 'basename', 'readlink', 'true', 'false'];

/** A bin folder with node, npm and BASE_TOOLS in it: no compiler, no make, no python3. */
export function bareBin() {
  const bin = mkdtempSync(join(tmpdir(), 'gmai-bin-'));
  for (const tool of BASE_TOOLS) {
    const at = ['/usr/bin', '/bin'].map((d) => join(d, tool)).find((p) => existsSync(p));
    if (at) symlinkSync(at, join(bin, tool));
  }
  symlinkSync(process.execPath, join(bin, 'node'));
  const npmBin = existsSync(npmCli) ? npmCli : execFileSync('sh', ['-c', 'readlink -f "$(command -v npm)"'], { encoding: 'utf8' }).trim();
  symlinkSync(npmBin, join(bin, 'npm'));
  return bin;
}

/** An environment whose PATH holds only `bin`; npm settings that would change the install dropped. */
export function bareEnv(bin, extra = {}) {
  const env = { HOME: process.env.HOME, PATH: bin, TMPDIR: tmpdir(), npm_config_cache: process.env.npm_config_cache, ...extra };
  for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
  return env;
}

/** An empty ESM project to install into. */
export function emptyProject() {
  const dir = mkdtempSync(join(tmpdir(), 'gmai-consumer-'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }, null, 2));
  return dir;
}

/** Installs a tarball (deps from npm's cache when there), returning the seconds it took. */
export function installTarball(project, tarball, env) {
  const t0 = process.hrtime.bigint();
  const r = npm(['install', '--no-audit', '--no-fund', '--prefer-offline', '--fetch-retries=1', '--foreground-scripts', tarball], { cwd: project, env });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return { ...r, seconds };
}
