// Frame indices drawn into contact-sheet tiles with a built-in 3x5 pixel digit font. A font file or SVG
// text would depend on the fonts installed (a bare CI container has none, and librsvg then draws
// nothing); ten glyphs of 15 bits each draw the same everywhere.

/** Rows of each digit 0-9, top to bottom; bit 2 is the left column. */
const DIGITS: readonly (readonly number[])[] = [
  [0b111, 0b101, 0b101, 0b101, 0b111],
  [0b010, 0b110, 0b010, 0b010, 0b111],
  [0b111, 0b001, 0b111, 0b100, 0b111],
  [0b111, 0b001, 0b111, 0b001, 0b111],
  [0b101, 0b101, 0b111, 0b001, 0b001],
  [0b111, 0b100, 0b111, 0b001, 0b111],
  [0b111, 0b100, 0b111, 0b101, 0b111],
  [0b111, 0b001, 0b001, 0b001, 0b001],
  [0b111, 0b101, 0b111, 0b101, 0b111],
  [0b111, 0b101, 0b111, 0b001, 0b111],
];
const GLYPH_W = 3;
const GLYPH_H = 5;
/** Font pixels of margin around the digits, and between them. */
const PAD = 1;

export const LABEL_INK = 255; // white digits...
export const LABEL_BACKGROUND = 0; // ...on a black box: readable on any frame

/** Size in image pixels of the label for `index` at `scale` image pixels per font pixel. */
export function labelSize(index: number, scale: number): { width: number; height: number } {
  const n = String(index).length;
  return { width: (n * (GLYPH_W + PAD) + PAD) * scale, height: (GLYPH_H + 2 * PAD) * scale };
}

/** Whether font pixel (fx, fy) of the label for `index` is ink (a digit) rather than background. */
export function labelInkAt(index: number, fx: number, fy: number): boolean {
  const text = String(index);
  const gx = fx - PAD;
  const gy = fy - PAD;
  if (gx < 0 || gy < 0 || gy >= GLYPH_H) return false;
  const slot = Math.floor(gx / (GLYPH_W + PAD));
  const column = gx % (GLYPH_W + PAD);
  if (slot >= text.length || column >= GLYPH_W) return false;
  const row = DIGITS[text.charCodeAt(slot) - 48][gy];
  return ((row >> (GLYPH_W - 1 - column)) & 1) === 1;
}

/** Draws the label for `index` into the top-left corner of an RGB image, clipped to it. */
export function drawIndexLabel(rgb: Uint8Array, width: number, height: number, index: number, scale: number): void {
  if (!Number.isInteger(index) || index < 0) throw new RangeError(`drawIndexLabel: index is ${index}; allowed: a non-negative integer`);
  const size = labelSize(index, scale);
  const w = Math.min(size.width, width);
  const h = Math.min(size.height, height);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const v = labelInkAt(index, Math.floor(x / scale), Math.floor(y / scale)) ? LABEL_INK : LABEL_BACKGROUND;
      const o = (y * width + x) * 3;
      rgb[o] = v;
      rgb[o + 1] = v;
      rgb[o + 2] = v;
    }
  }
}
