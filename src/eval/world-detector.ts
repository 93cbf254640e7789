// A pixel detector for the synthetic world (src/data/world): from RGB frames alone, with no access to
// labels, it names the background (color and texture), the object's color and shape, and what the object
// does in a clip. Tests use it to check that every label the world writes is what its pixels show; it
// knows the world's definitions (the named colors and the texture contrast), never a sample's label.
//
// Per frame:
//  1. Background color: the most common nearest named color (texture tones stay nearest to their base, and
//     the object covers well under half the frame: at most a quarter with the default sizes). A pixel is background when it lies on the texture segment
//     from the base to textureTone(base) (distance <= ON_TEXTURE); its position u in [0, 1] along that
//     segment is its texture tone.
//  2. Object color: the other pixels are object or object mixed with background at an anti-aliased edge,
//     p = base + a (o - base). The named color o whose segment from the base explains them with the least
//     squared residual is the object's color; a = the projection on that segment is the pixel's coverage.
//  3. Shape: with coverage a, centroid c and each pixel at distance r, angle phi (clockwise, y down) from c,
//     the angular harmonics M_k = sum a r^2 e^{i k phi} / sum a r^2 are rotation-invariant in magnitude and
//     vanish unless the outline has k-fold symmetry: a square has only k = 4, 8, ..., a triangle k = 3, 6,
//     ..., a star k = 5, 10, ..., a circle none. The shape is the largest of |M_3|, |M_4|, |M_5|, or a
//     circle when all are below CIRCLE_HARMONIC. arg(M_k) / k is the outline's orientation (mod 360 / k).
//  4. Texture: among background pixels, plain when almost no tone is raised, speckle when many tones are
//     in between, otherwise two-tone: stripes when rows (or columns) are uniform, else checker.
// Per clip: the centroid, area and orientation tracks give the action, in this order of tests:
//   bounce  some frame has a fall of BOUNCE_MIN before it and a rise of BOUNCE_MIN after it
//   move    the net centroid displacement is at least MOVE_MIN: its direction, in 8 sectors of 45 degrees
//   grow / shrink  sqrt(area) changes by a factor beyond SCALE_MIN between the first and last frames
//   rotate  the unwrapped orientation turns by at least ROTATE_MIN degrees (never for a circle)
//   none    otherwise

import { textureTone, type TextureName } from "../data/world/background.js";
import type { ActionName, Direction } from "../data/world/actions.js";
import { BACKGROUND_COLOR_NAMES, NAMED_RGB, OBJECT_COLOR_NAMES, type BackgroundColorName, type ColorName } from "../data/world/palette.js";
import type { ShapeName } from "../data/world/shapes.js";

/** Max RGB distance from the texture segment for a background pixel (uint8 rounding is <= 0.87). */
const ON_TEXTURE = 6;
/** Below this, every harmonic |M_3..5| is rasterisation noise: the outline is a circle. */
const CIRCLE_HARMONIC = 0.05;
/** Fractions of min(width, height): net displacement that counts as a move; fall and rise of a bounce. */
const MOVE_MIN = 0.025;
const BOUNCE_MIN = 0.025;
/** sqrt(area) ratio between the first and last frames that counts as grow (or its inverse, shrink). */
const SCALE_MIN = 1.1;
/** Net turn, degrees, that counts as a rotation. */
const ROTATE_MIN = 8;

const HARMONICS = [3, 4, 5] as const;
const SHAPE_OF_HARMONIC: Record<(typeof HARMONICS)[number], ShapeName> = { 3: "triangle", 4: "square", 5: "star" };

export interface FrameSize {
  width: number;
  height: number;
}

export interface BackgroundDetection {
  color: BackgroundColorName;
  texture: TextureName;
}

export interface FrameDetection {
  background: BackgroundDetection;
  /** null when no pixel differs from the background */
  color: ColorName | null;
  shape: ShapeName | null;
  /** Coverage-weighted centroid, pixels (pixel (i, j) has its centre at (i + 0.5, j + 0.5)). */
  cx: number;
  cy: number;
  /** Sum of coverage: the object's area in pixels. */
  area: number;
  /** |M_3|, |M_4|, |M_5| */
  harmonics: [number, number, number];
  /** arg(M_3), arg(M_4), arg(M_5) in radians */
  phases: [number, number, number];
}

export interface ClipDetection {
  background: BackgroundDetection;
  color: ColorName | null;
  shape: ShapeName | null;
  action: ActionName | "none";
  direction: Direction | "none";
  measures: MotionMeasures;
  frames: FrameDetection[];
}

function checkFrame(frame: Uint8Array, size: FrameSize): void {
  const { width, height } = size;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new Error(`detectFrame: size ${width} x ${height} is not allowed; allowed: positive integers`);
  }
  if (!(frame instanceof Uint8Array) || frame.length !== width * height * 3) {
    throw new Error(`detectFrame: frame has ${frame?.length} bytes; allowed: a Uint8Array of width * height * 3 = ${width * height * 3} (RGB, row-major)`);
  }
}

function mostCommon<T>(items: readonly T[]): T {
  const counts = new Map<T, number>();
  let best = items[0];
  for (const x of items) {
    const n = (counts.get(x) ?? 0) + 1;
    counts.set(x, n);
    if (n > (counts.get(best) ?? 0)) best = x;
  }
  return best;
}

/** Named colors as a flat [r, g, b, r, g, b, ...] table, in BACKGROUND_COLOR_NAMES order. */
const PALETTE = Float64Array.from(BACKGROUND_COLOR_NAMES.flatMap((name) => [...NAMED_RGB[name]]));

function nearestBackgroundColor(frame: Uint8Array): BackgroundColorName {
  const counts = new Array<number>(BACKGROUND_COLOR_NAMES.length).fill(0);
  for (let p = 0; p < frame.length; p += 3) {
    const r = frame[p];
    const g = frame[p + 1];
    const b = frame[p + 2];
    let best = 0;
    let bestD = Infinity;
    for (let k = 0; k < PALETTE.length; k += 3) {
      const d = (r - PALETTE[k]) ** 2 + (g - PALETTE[k + 1]) ** 2 + (b - PALETTE[k + 2]) ** 2;
      if (d < bestD) {
        bestD = d;
        best = k / 3;
      }
    }
    counts[best]++;
  }
  return BACKGROUND_COLOR_NAMES[counts.indexOf(Math.max(...counts))];
}

/** Texture kind from the tones u of background pixels (-1 marks an object pixel). */
function classifyTexture(tones: Float32Array, width: number, height: number): TextureName {
  let background = 0;
  let raised = 0;
  let between = 0;
  for (const u of tones) {
    if (u < 0) continue;
    background++;
    if (u > 0.2) raised++;
    if (u > 0.2 && u < 0.8) between++;
  }
  if (raised < 0.02 * background) return "plain";
  if (between > 0.2 * background) return "speckle";
  // two tones: how many background pixels agree with the majority tone of their row (or column)
  const agreement = (lines: number, along: number, at: (line: number, i: number) => number): number => {
    let agree = 0;
    for (let line = 0; line < lines; line++) {
      let high = 0;
      let all = 0;
      for (let i = 0; i < along; i++) {
        const u = tones[at(line, i)];
        if (u < 0) continue;
        all++;
        if (u > 0.5) high++;
      }
      agree += Math.max(high, all - high);
    }
    return agree / background;
  };
  const rows = agreement(height, width, (y, x) => y * width + x);
  const columns = agreement(width, height, (x, y) => y * width + x);
  return Math.max(rows, columns) > 0.97 ? "stripes" : "checker";
}

/** Everything one frame shows, from its pixels alone. */
export function detectFrame(frame: Uint8Array, size: FrameSize): FrameDetection {
  checkFrame(frame, size);
  const { width, height } = size;
  const bgName = nearestBackgroundColor(frame);
  const base = NAMED_RGB[bgName];
  const tone = textureTone(bgName);
  const d = [tone[0] - base[0], tone[1] - base[1], tone[2] - base[2]];
  const dd = d[0] * d[0] + d[1] * d[1] + d[2] * d[2];

  // 1. background pixels and their tones; the rest are object pixels (by index)
  const tones = new Float32Array(width * height);
  const objectPixels: number[] = [];
  for (let i = 0; i < width * height; i++) {
    const v0 = frame[3 * i] - base[0];
    const v1 = frame[3 * i + 1] - base[1];
    const v2 = frame[3 * i + 2] - base[2];
    const u = Math.min(1, Math.max(0, (v0 * d[0] + v1 * d[1] + v2 * d[2]) / dd));
    const r0 = v0 - u * d[0];
    const r1 = v1 - u * d[1];
    const r2 = v2 - u * d[2];
    if (r0 * r0 + r1 * r1 + r2 * r2 <= ON_TEXTURE * ON_TEXTURE) tones[i] = u;
    else {
      tones[i] = -1;
      objectPixels.push(i);
    }
  }
  const background = { color: bgName, texture: classifyTexture(tones, width, height) };
  const none: FrameDetection = { background, color: null, shape: null, cx: NaN, cy: NaN, area: 0, harmonics: [0, 0, 0], phases: [0, 0, 0] };
  if (objectPixels.length === 0) return none;

  // 2. the object color whose mixing line with the background explains the object pixels best
  const n = objectPixels.length;
  const v = new Float64Array(3 * n); // [n, 3]: object pixels minus the base
  for (let k = 0; k < n; k++) for (let c = 0; c < 3; c++) v[3 * k + c] = frame[3 * objectPixels[k] + c] - base[c];
  /** Coverage of each object pixel on the line base -> o (into `coverage`), and the summed squared residual. */
  const unmix = (o: readonly number[], coverage: Float64Array): number => {
    const e0 = o[0] - base[0];
    const e1 = o[1] - base[1];
    const e2 = o[2] - base[2];
    const ee = e0 * e0 + e1 * e1 + e2 * e2;
    let residual = 0;
    for (let k = 0; k < n; k++) {
      const v0 = v[3 * k];
      const v1 = v[3 * k + 1];
      const v2 = v[3 * k + 2];
      const a = Math.min(1, Math.max(0, (v0 * e0 + v1 * e1 + v2 * e2) / ee));
      coverage[k] = a;
      residual += (v0 - a * e0) ** 2 + (v1 - a * e1) ** 2 + (v2 - a * e2) ** 2;
    }
    return residual;
  };
  const coverage = new Float64Array(n);
  let color: ColorName = OBJECT_COLOR_NAMES[0];
  let bestResidual = Infinity;
  for (const name of OBJECT_COLOR_NAMES) {
    if (name === bgName) continue;
    const residual = unmix(NAMED_RGB[name], coverage);
    if (residual < bestResidual) {
      bestResidual = residual;
      color = name;
    }
  }

  // 3. coverage, centroid, angular harmonics
  unmix(NAMED_RGB[color], coverage);
  let area = 0;
  let sx = 0;
  let sy = 0;
  for (let k = 0; k < n; k++) {
    const i = objectPixels[k];
    area += coverage[k];
    sx += coverage[k] * ((i % width) + 0.5);
    sy += coverage[k] * (Math.floor(i / width) + 0.5);
  }
  if (area === 0) return none;
  const cx = sx / area;
  const cy = sy / area;
  // e^{i k phi} as powers of the unit vector (dx + i dy) / r, no trigonometry per pixel
  let m0 = 0;
  const re = [0, 0, 0];
  const im = [0, 0, 0];
  for (let k = 0; k < n; k++) {
    const i = objectPixels[k];
    const dx = (i % width) + 0.5 - cx;
    const dy = Math.floor(i / width) + 0.5 - cy;
    const r2 = dx * dx + dy * dy;
    if (r2 === 0) continue;
    const w = coverage[k] * r2;
    const r = Math.sqrt(r2);
    const ux = dx / r;
    const uy = dy / r;
    const u2x = ux * ux - uy * uy;
    const u2y = 2 * ux * uy;
    let px = u2x * ux - u2y * uy; // u^3
    let py = u2x * uy + u2y * ux;
    m0 += w;
    for (let j = 0; j < 3; j++) {
      re[j] += w * px;
      im[j] += w * py;
      const nx = px * ux - py * uy;
      py = px * uy + py * ux;
      px = nx;
    }
  }
  const harmonics = [0, 1, 2].map((j) => Math.hypot(re[j], im[j]) / m0) as [number, number, number];
  const phases = [0, 1, 2].map((j) => Math.atan2(im[j], re[j])) as [number, number, number];
  return { background, color, shape: shapeOf(harmonics), cx, cy, area, harmonics, phases };
}

function shapeOf(harmonics: readonly number[]): ShapeName {
  const j = harmonics.indexOf(Math.max(...harmonics));
  return harmonics[j] < CIRCLE_HARMONIC ? "circle" : SHAPE_OF_HARMONIC[HARMONICS[j]];
}

/** The 8-sector compass direction of a displacement (image coordinates, y down). */
function directionOf(dx: number, dy: number): Direction {
  const sector = ((Math.round(Math.atan2(dy, dx) / (Math.PI / 4)) % 8) + 8) % 8; // 0 = right, clockwise on screen
  const bySector: Direction[] = ["right", "down-right", "down", "down-left", "left", "up-left", "up", "up-right"];
  return bySector[sector];
}

/** What the tracks of a clip measure, before any threshold. */
export interface MotionMeasures {
  /** Net centroid displacement from the first to the last frame with an object, pixels. */
  dx: number;
  dy: number;
  /** sqrt(area) of the last frame over that of the first. */
  scale: number;
  /** Net turn of the outline, degrees clockwise (0 for a circle). */
  turn: number;
  /** The largest fall-then-rise of the centroid: min(fall before, rise after) over frames, pixels. */
  bounce: number;
}

function measureMotion(seen: readonly FrameDetection[], shape: ShapeName | null): MotionMeasures {
  const first = seen[0];
  const last = seen[seen.length - 1];
  // a reversal from falling to rising anywhere in the clip (a track may hold several arcs)
  const ys = seen.map((f) => f.cy);
  let bounce = 0;
  for (let t = 1; t + 1 < ys.length; t++) {
    const fall = ys[t] - Math.min(...ys.slice(0, t));
    const rise = ys[t] - Math.min(...ys.slice(t + 1));
    bounce = Math.max(bounce, Math.min(fall, rise));
  }
  let turn = 0;
  if (shape !== null && shape !== "circle") {
    const j = HARMONICS.findIndex((h) => SHAPE_OF_HARMONIC[h] === shape);
    for (let t = 1; t < seen.length; t++) {
      let step = seen[t].phases[j] - seen[t - 1].phases[j];
      step -= 2 * Math.PI * Math.round(step / (2 * Math.PI)); // unwrap: a frame turns less than half a symmetry period
      turn += step / HARMONICS[j];
    }
  }
  return { dx: last.cx - first.cx, dy: last.cy - first.cy, scale: Math.sqrt(last.area / first.area), turn: (turn * 180) / Math.PI, bounce };
}

/** The action the measures show (see the header for the order of tests); m = min(width, height). */
function classifyMotion(w: MotionMeasures, m: number): [ActionName | "none", Direction | "none"] {
  if (w.bounce >= BOUNCE_MIN * m) return ["bounce", "none"];
  if (Math.hypot(w.dx, w.dy) >= MOVE_MIN * m) {
    const direction = directionOf(w.dx, w.dy);
    return [`move-${direction}`, direction];
  }
  if (w.scale >= SCALE_MIN) return ["grow", "none"];
  if (w.scale <= 1 / SCALE_MIN) return ["shrink", "none"];
  if (w.turn >= ROTATE_MIN) return ["rotate-clockwise", "none"];
  if (w.turn <= -ROTATE_MIN) return ["rotate-counterclockwise", "none"];
  return ["none", "none"];
}

/** Accumulates a clip frame by frame (frames are not kept), then names what it shows. */
export class ClipDetector {
  private readonly detections: FrameDetection[] = [];

  constructor(private readonly size: FrameSize) {}

  push(frame: Uint8Array): void {
    this.detections.push(detectFrame(frame, this.size));
  }

  result(): ClipDetection {
    const frames = this.detections;
    if (frames.length === 0) throw new Error("ClipDetector.result: no frames were pushed; allowed: at least 1 frame");
    const seen = frames.filter((f) => f.area > 0);
    // the shape from harmonics averaged over the clip, steadier than a vote on single frames
    const mean = [0, 1, 2].map((j) => seen.reduce((s, f) => s + f.harmonics[j], 0) / Math.max(1, seen.length));
    const shape = seen.length === 0 ? null : shapeOf(mean);
    const measures = seen.length < 2 ? { dx: 0, dy: 0, scale: 1, turn: 0, bounce: 0 } : measureMotion(seen, shape);
    const [action, direction] = classifyMotion(measures, Math.min(this.size.width, this.size.height));
    return {
      background: {
        color: mostCommon(frames.map((f) => f.background.color)),
        texture: mostCommon(frames.map((f) => f.background.texture)),
      },
      color: seen.length === 0 ? null : mostCommon(seen.map((f) => f.color)),
      shape,
      action,
      direction,
      measures,
      frames,
    };
  }
}

/** What a clip shows, from its frames alone (an iterable, consumed once, frame by frame). */
export function detectClip(frames: Iterable<Uint8Array>, size: FrameSize): ClipDetection {
  const detector = new ClipDetector(size);
  for (const frame of frames) detector.push(frame);
  return detector.result();
}
