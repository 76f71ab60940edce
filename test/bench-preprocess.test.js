// `gmai bench preprocess`: the rows it writes (never its timings), and the vision tower FLOP
// count it compares preprocessing against.
import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { VISION_3B, visionTowerFlops } from '../dist/bench/vision-flops.js';

const run = promisify(execFile);
const gmai = fileURLToPath(new URL('../bin/gmai.js', import.meta.url));
const positive = (x) => Number.isFinite(x) && x > 0;

test('gmai bench preprocess --quick: three stages and the whole call per image and budget', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gmai-bench-preprocess-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'preprocess.json');
  const { stdout } = await run(process.execPath, [gmai, 'bench', 'preprocess', '--quick', '--json', file]);
  t.regex(stdout, /preprocessing ÷ tower lower bound/);
  const rows = JSON.parse(readFileSync(file, 'utf8'));
  t.is(rows.length, 16);
  for (const r of rows) {
    t.true(positive(r.ms) && positive(r.peakGflops), JSON.stringify(r));
    t.true(typeof r.shape === 'string' && typeof r.dtype === 'string');
  }
  for (let i = 0; i < rows.length; i += 4) {
    const [decode, resize, patchify, full] = rows.slice(i, i + 4);
    t.deepEqual([decode.kernel, resize.kernel, patchify.kernel, full.kernel], ['decode', 'resize', 'rescale+normalise+patchify', 'preprocessImage']);
    t.true(Math.abs(decode.sharePct + resize.sharePct + patchify.sharePct - 100) < 1e-6);
    for (const k of ['imagesPerS', 'patches', 'towerGflop', 'towerMinMs', 'ratioToTower']) t.true(positive(full[k]), k);
  }
  // DICOM 512² → 504², 448²; JPEG 2000×1500 → 1512×1988, 364×504 (smart_resize)
  t.deepEqual(rows.filter((r) => r.kernel === 'preprocessImage').map((r) => r.patches), [1296, 1024, 15336, 936]);
});

test('vision tower FLOPs: the hand count at 448², exact pairs for partial windows', (t) => {
  const h = 1280, inter = 3420, patches = 1024;
  const linear = (n) => 2 * n * (1176 * h + 32 * (4 * h * h + 3 * h * inter)) + 2 * (n / 4) * (4 * h * 4 * h + 4 * h * 2048);
  // 448²: 32×32 patches, 16 windows of 64 patches, full attention over 1024 at 4 of 32 blocks
  t.is(visionTowerFlops(VISION_3B, { t: 1, h: 32, w: 32 }), linear(patches) + 4 * h * (28 * 16 * 64 ** 2 + 4 * patches ** 2));
  // 36×36 patches: 18 merged tokens a side → windows of 4,4,4,4,2 tokens a side (×2 patches)
  const side = [8, 8, 8, 8, 4];
  const windowPairs = side.reduce((a, x) => a + side.reduce((b, y) => b + (x * y) ** 2, 0), 0);
  t.is(visionTowerFlops(VISION_3B, { t: 1, h: 36, w: 36 }), linear(1296) + 4 * h * (28 * windowPairs + 4 * 1296 ** 2));
});
