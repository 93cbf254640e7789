// The world's named colors. Object colors are 8 hues plus white, picked so that every pair is at least
// ~100 apart in RGB (Euclidean, 0-255 per channel): a pixel detector can name a color from its core
// pixels without doubt, and the pixels mixed at an anti-aliased edge stay on the line between object and
// background colors instead of landing near a third named color. Backgrounds use the same 8 plus black
// and gray; a scene never paints an object on a background of its own color.
//
//   name    RGB             name    RGB
//   red     220,  30,  30   cyan     40, 210, 220
//   orange  250, 130,   0   blue     40,  70, 220
//   yellow  250, 230,  30   purple  150,  50, 200
//   green    40, 180,  60   white   245, 245, 245
//   black     0,   0,   0   gray    128, 128, 128   (backgrounds only)

export type Rgb = readonly [number, number, number];

export const OBJECT_COLOR_NAMES = ["red", "orange", "yellow", "green", "cyan", "blue", "purple", "white"] as const;
export type ColorName = (typeof OBJECT_COLOR_NAMES)[number];

export const BACKGROUND_COLOR_NAMES = [...OBJECT_COLOR_NAMES, "black", "gray"] as const;
export type BackgroundColorName = (typeof BACKGROUND_COLOR_NAMES)[number];

export const NAMED_RGB: Readonly<Record<BackgroundColorName, Rgb>> = {
  red: [220, 30, 30],
  orange: [250, 130, 0],
  yellow: [250, 230, 30],
  green: [40, 180, 60],
  cyan: [40, 210, 220],
  blue: [40, 70, 220],
  purple: [150, 50, 200],
  white: [245, 245, 245],
  black: [0, 0, 0],
  gray: [128, 128, 128],
};

/** Squared RGB distance between a pixel (r, g, b) and a named color. */
export function rgbDistance2(r: number, g: number, b: number, c: Rgb): number {
  const dr = r - c[0];
  const dg = g - c[1];
  const db = b - c[2];
  return dr * dr + dg * dg + db * db;
}
