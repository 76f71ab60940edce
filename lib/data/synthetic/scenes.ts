// Procedural images in four 'modalities'. Each scene is an anatomy (a background that looks like
// the modality) plus bright lesions. The contract the questions rely on: in the detection channel
// (grey, or green for the RGB fundus) every lesion pixel is ≥ LESION_MIN and every other pixel is
// ≤ BACKGROUND_MAX, and lesions never touch, so side, count, quadrant and size all follow from the
// pixels (test/synthetic-data.test.js re-derives them by thresholding).
import type { Rng } from '../../random.js';

export const MODALITIES = ['chest-radiograph', 'ct', 'fundus', 'ultrasound'] as const;
export type Modality = (typeof MODALITIES)[number];

export const LESION_MIN = 232;
export const BACKGROUND_MAX = 200;

/** A lesion: centre and radii in pixels (pixel i covers [i, i+1)). */
export interface Lesion { x: number; y: number; rx: number; ry: number }

export interface Scene {
  width: number;
  height: number;
  /** 1 (grey) or 3 (RGB, interleaved). */
  channels: 1 | 3;
  data: Uint8Array;
}

/** Where lesions may go in one image: anatomy drawn with per-image jitter. */
export interface Anatomy {
  modality: Modality;
  size: number;
  /** Whether a lesion of bounding radius r (pixels) centred at (x, y) lies inside the organ. */
  fits(x: number, y: number, r: number): boolean;
  /** Draws the image with `lesions` on top. */
  draw(lesions: readonly Lesion[], rng: Rng): Scene;
}

interface Ellipse { cx: number; cy: number; a: number; b: number }  // normalised to the image size
const ellipse2 = (e: Ellipse, u: number, v: number) => ((u - e.cx) / e.a) ** 2 + ((v - e.cy) / e.b) ** 2;
/** A disc of radius r (normalised) lies inside the ellipse (conservative: the ellipse shrunk by r). */
const discInEllipse = (e: Ellipse, u: number, v: number, r: number) =>
  r < e.a && r < e.b && ((u - e.cx) / (e.a - r)) ** 2 + ((v - e.cy) / (e.b - r)) ** 2 <= 1;
const clamp = (v: number, lo: number, hi: number) => (v < lo ? lo : v > hi ? hi : v);

export function createAnatomy(modality: Modality, size: number, rng: Rng): Anatomy {
  switch (modality) {
    case 'chest-radiograph': return chestRadiograph(size, rng);
    case 'ct': return ctSlice(size, rng);
    case 'fundus': return fundus(size, rng);
    case 'ultrasound': return ultrasound(size, rng);
  }
}

/** Per-pixel loop over normalised pixel centres (u, v) ∈ (0, 1). */
function forEachPixel(size: number, fn: (i: number, u: number, v: number, x: number, y: number) => void): void {
  for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) fn(y * size + x, (x + 0.5) / size, (y + 0.5) / size, x + 0.5, y + 0.5);
}

/** Writes the lesions into `value` (one channel) at LESION_MIN..255: brightest at the centre. */
function paintLesions(value: Float32Array, size: number, lesions: readonly Lesion[], rng: Rng, onPixel?: (i: number) => void): void {
  for (const l of lesions) {
    const x0 = Math.max(0, Math.floor(l.x - l.rx)), x1 = Math.min(size - 1, Math.ceil(l.x + l.rx));
    const y0 = Math.max(0, Math.floor(l.y - l.ry)), y1 = Math.min(size - 1, Math.ceil(l.y + l.ry));
    for (let y = y0; y <= y1; y++) for (let x = x0; x <= x1; x++) {
      const e = ((x + 0.5 - l.x) / l.rx) ** 2 + ((y + 0.5 - l.y) / l.ry) ** 2;
      if (e > 1) continue;
      const i = y * size + x;
      value[i] = clamp(254 - 16 * e + rng.uniform(-3, 3), LESION_MIN, 255);
      onPixel?.(i);
    }
  }
}

function greyScene(size: number, value: Float32Array): Scene {
  const data = new Uint8Array(size * size);
  for (let i = 0; i < data.length; i++) data[i] = Math.round(value[i]);
  return { width: size, height: size, channels: 1, data };
}

/** Frontal chest film: grey body, two dark lung fields with ribs, bright spine and mediastinum. */
function chestRadiograph(size: number, rng: Rng): Anatomy {
  const j = () => rng.uniform(-0.015, 0.015);
  const lungs: Ellipse[] = [
    { cx: 0.31 + j(), cy: 0.49 + j(), a: 0.145 + j() / 2, b: 0.29 + j() },
    { cx: 0.69 + j(), cy: 0.49 + j(), a: 0.145 + j() / 2, b: 0.29 + j() },
  ];
  const ribPhase = rng.uniform(0, 1);
  return {
    modality: 'chest-radiograph', size,
    fits: (x, y, r) => lungs.some((e) => discInEllipse(e, x / size, y / size, (r + 1) / size)),
    draw(lesions, rng) {
      const value = new Float32Array(size * size);
      forEachPixel(size, (i, u, v) => {
        const body = Math.exp(-(((u - 0.5) / 0.45) ** 8) - (((v - 0.53) / 0.52) ** 8));
        let g = 25 + 140 * body + 40 * Math.exp(-(((u - 0.5) / 0.07) ** 2)) * body;
        const lung = Math.max(0, 1 - ellipse2(lungs[0], u, v), 1 - ellipse2(lungs[1], u, v));
        if (lung > 0) g += Math.sqrt(lung) * (-95 + 25 * (0.5 + 0.5 * Math.cos(2 * Math.PI * (v * 8 + 2.5 * (u - 0.5) ** 2 + ribPhase))));
        value[i] = clamp(g + rng.uniform(-6, 6), 0, BACKGROUND_MAX);
      });
      paintLesions(value, size, lesions, rng);
      return greyScene(size, value);
    },
  };
}

/** Axial chest CT: black air, oval body with a fat rim, dark lungs, heart, a bright vertebra. */
function ctSlice(size: number, rng: Rng): Anatomy {
  const j = () => rng.uniform(-0.012, 0.012);
  const body: Ellipse = { cx: 0.5, cy: 0.52 + j(), a: 0.45 + j(), b: 0.36 + j() };
  const lungs: Ellipse[] = [
    { cx: 0.32 + j(), cy: 0.5 + j(), a: 0.14 + j() / 2, b: 0.23 + j() },
    { cx: 0.68 + j(), cy: 0.5 + j(), a: 0.14 + j() / 2, b: 0.23 + j() },
  ];
  const heart: Ellipse = { cx: 0.53 + j(), cy: 0.5, a: 0.1, b: 0.09 };
  const spine = { cx: 0.5, cy: 0.78 + j(), r: 0.05 };
  return {
    modality: 'ct', size,
    fits: (x, y, r) => lungs.some((e) => discInEllipse(e, x / size, y / size, (r + 1) / size)),
    draw(lesions, rng) {
      const value = new Float32Array(size * size);
      forEachPixel(size, (i, u, v) => {
        const eb = ellipse2(body, u, v);
        let g = 4;
        if (eb <= 1) {
          g = eb > 0.8 ? 80 : 112;  // subcutaneous fat, then soft tissue
          if (ellipse2(heart, u, v) <= 1) g = 135;
          if (lungs.some((e) => ellipse2(e, u, v) <= 1)) g = 20;
          const ds = Math.hypot(u - spine.cx, v - spine.cy);
          if (ds <= spine.r) g = ds > spine.r * 0.7 ? 195 : 150;  // cortical rim, cancellous core
        }
        value[i] = clamp(g + rng.uniform(-5, 5), 0, BACKGROUND_MAX);
      });
      paintLesions(value, size, lesions, rng);
      return greyScene(size, value);
    },
  };
}

/** Colour fundus photograph: orange-red retina in a black field, pale optic disc, dark vessels. */
function fundus(size: number, rng: Rng): Anatomy {
  const field = { cx: 0.5, cy: 0.5, r: 0.46 };
  const discSide = rng.next() < 0.5 ? -1 : 1;
  const disc = { cx: 0.5 + discSide * rng.uniform(0.17, 0.22), cy: 0.5 + rng.uniform(-0.04, 0.04), r: 0.065 };
  // vessels: arcs leaving the disc above and below, across the retina
  const vessels: { x: number; y: number; r: number }[] = [];
  for (const up of [-1, 1]) for (const reach of [rng.uniform(0.45, 0.6), rng.uniform(0.25, 0.35)]) {
    const bend = rng.uniform(0.22, 0.32);
    for (let t = 0; t <= 1; t += 0.5 / size) {
      vessels.push({ x: disc.cx - discSide * reach * t, y: disc.cy + up * bend * Math.sin(Math.PI * 0.8 * t), r: 0.011 * (1 - 0.5 * t) });
    }
  }
  return {
    modality: 'fundus', size,
    fits: (x, y, r) => {
      const u = x / size, v = y / size, rn = (r + 1) / size;
      return Math.hypot(u - field.cx, v - field.cy) + rn <= field.r - 0.04 && Math.hypot(u - disc.cx, v - disc.cy) >= disc.r + rn + 0.02;
    },
    draw(lesions, rng) {
      const n = size * size;
      const red = new Float32Array(n), green = new Float32Array(n), blue = new Float32Array(n);
      const inVessel = new Uint8Array(n);
      for (const p of vessels) {
        const r = p.r * size, x0 = Math.floor(p.x * size - r), y0 = Math.floor(p.y * size - r);
        for (let y = y0; y <= y0 + 2 * r + 1; y++) for (let x = x0; x <= x0 + 2 * r + 1; x++) {
          if (x >= 0 && y >= 0 && x < size && y < size && Math.hypot(x + 0.5 - p.x * size, y + 0.5 - p.y * size) <= r) inVessel[y * size + x] = 1;
        }
      }
      forEachPixel(size, (i, u, v) => {
        const d = Math.hypot(u - field.cx, v - field.cy) / field.r;
        if (d > 1) { red[i] = green[i] = blue[i] = 0; return; }
        const macula = Math.exp(-(((u - 0.5) ** 2 + (v - 0.5) ** 2) / 0.004));
        let r = 190 - 45 * d * d - 35 * macula, g = 82 - 25 * d * d - 20 * macula, b = 38 - 10 * d;
        const dd = Math.hypot(u - disc.cx, v - disc.cy) / disc.r;
        if (dd < 1.3) { const w = clamp(1.3 - dd, 0, 1); r += (238 - r) * w; g += (190 - g) * w; b += (125 - b) * w; }
        if (inVessel[i]) { r = 125; g = 32; b = 25; }
        const noise = rng.uniform(-4, 4);
        red[i] = clamp(r + noise, 0, 245); green[i] = clamp(g + noise, 0, BACKGROUND_MAX); blue[i] = clamp(b + noise, 0, BACKGROUND_MAX);
      });
      // exudates: yellow-white; the green channel carries the lesion contract
      paintLesions(green, size, lesions, rng, (i) => { red[i] = 255; blue[i] = 150; });
      const data = new Uint8Array(n * 3);
      for (let i = 0; i < n; i++) { data[3 * i] = Math.round(red[i]); data[3 * i + 1] = Math.round(green[i]); data[3 * i + 2] = Math.round(blue[i]); }
      return { width: size, height: size, channels: 3, data };
    },
  };
}

/** Sector (fan) ultrasound: speckle fading with depth, an anechoic cyst, lesions casting shadows. */
function ultrasound(size: number, rng: Rng): Anatomy {
  const apex = { x: 0.5, y: 0.02 }, halfAngle = (rng.uniform(36, 42) * Math.PI) / 180;
  const near = 0.08, far = 0.95;
  const cyst: Ellipse = { cx: 0.5 + rng.uniform(-0.15, 0.15), cy: rng.uniform(0.55, 0.72), a: rng.uniform(0.08, 0.13), b: rng.uniform(0.05, 0.08) };
  const polar = (u: number, v: number) => ({ d: Math.hypot(u - apex.x, v - apex.y), theta: Math.atan2(u - apex.x, v - apex.y) });
  return {
    modality: 'ultrasound', size,
    fits: (x, y, r) => {
      const { d, theta } = polar(x / size, y / size), rn = (r + 1) / size;
      return d - rn >= near + 0.04 && d + rn <= far - 0.02 && d * Math.sin(halfAngle - Math.abs(theta)) >= rn + 0.01;
    },
    draw(lesions, rng) {
      const value = new Float32Array(size * size);
      forEachPixel(size, (i, u, v) => {
        const { d, theta } = polar(u, v);
        if (d < near || d > far || Math.abs(theta) > halfAngle) { value[i] = 0; return; }
        let g = (100 - 40 * d) * (0.45 + 0.55 * (rng.next() + rng.next())) + 12 * Math.sin(d * 45 + theta * 4);
        if (ellipse2(cyst, u, v) <= 1) g = 10 + 8 * rng.next();
        // acoustic shadow behind each lesion (darker, so it cannot be mistaken for one)
        for (const l of lesions) {
          if (v * size > l.y && Math.abs(u * size - l.x) < l.rx * 0.8) { g *= 0.35; break; }
        }
        value[i] = clamp(g, 0, BACKGROUND_MAX - 20);
      });
      paintLesions(value, size, lesions, rng);
      return greyScene(size, value);
    },
  };
}
