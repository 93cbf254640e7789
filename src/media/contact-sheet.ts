// A contact sheet: one PNG with a grid of frame thumbnails, each labelled with its frame index, to see a
// whole video at a glance. Frames are shrunk to thumbnails as they arrive, and at most `maxTiles` are
// kept: when a new one would exceed that, every other tile is dropped and the sampling stride doubles.
// Memory is then bounded by maxTiles thumbnails whatever the video's length, and the kept frames stay
// evenly spaced (indices 0, s, 2s, ... for a power-of-two stride s), which is why labels matter.

import sharp from "sharp";
import type { RgbFrame } from "./frame.js";
import type { FrameSink } from "./frame-sink.js";
import { sharpFromFrame } from "./image.js";
import { drawIndexLabel } from "./index-label.js";

export interface ContactSheetOptions {
  /** Columns of the grid; default: ceil(sqrt(tiles)), a near-square sheet. */
  columns?: number;
  /** Thumbnail width in pixels; default min(frame width, 160). The height keeps the frame's aspect. */
  tileWidth?: number;
  /** Most thumbnails kept (see above); default 64, at least 1. */
  maxTiles?: number;
}

/** Pixels between tiles and around the grid, and their colour (dark grey, distinct from black labels). */
export const SHEET_GAP = 2;
export const SHEET_BACKGROUND = 32;

interface Tile {
  index: number;
  rgb: Uint8Array;
}

export interface SheetGeometry {
  tileWidth: number;
  tileHeight: number;
  columns: number;
  rows: number;
  width: number;
  height: number;
  /** Image pixels per font pixel of the index labels. */
  labelScale: number;
}

function positiveInteger(name: string, v: unknown, max: number): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1 || v > max) {
    throw new RangeError(`contactSheet.${name} is ${String(v)}; allowed: an integer from 1 to ${max}`);
  }
  return v;
}

/** Checks the options against the frame size; the tile size follows from them. */
export function resolveContactSheet(options: ContactSheetOptions, width: number, height: number): Required<Omit<ContactSheetOptions, "columns">> & { columns?: number; tileHeight: number } {
  const tileWidth = options.tileWidth === undefined ? Math.min(width, 160) : positiveInteger("tileWidth", options.tileWidth, width);
  const maxTiles = options.maxTiles === undefined ? 64 : positiveInteger("maxTiles", options.maxTiles, 4096);
  const columns = options.columns === undefined ? undefined : positiveInteger("columns", options.columns, 4096);
  return { tileWidth, tileHeight: Math.max(1, Math.round((tileWidth * height) / width)), maxTiles, columns };
}

/** The sheet's layout for `tiles` thumbnails. */
export function sheetGeometry(tiles: number, tileWidth: number, tileHeight: number, columnsOption?: number): SheetGeometry {
  const columns = Math.min(columnsOption ?? Math.ceil(Math.sqrt(tiles)), tiles);
  const rows = Math.ceil(tiles / columns);
  return {
    tileWidth,
    tileHeight,
    columns,
    rows,
    width: columns * tileWidth + (columns + 1) * SHEET_GAP,
    height: rows * tileHeight + (rows + 1) * SHEET_GAP,
    labelScale: tileWidth >= 96 ? 2 : 1,
  };
}

export class ContactSheetSink implements FrameSink {
  readonly encoder: Readonly<Record<string, string | number>>;
  private tiles: Tile[] = [];
  private stride = 1;
  private seen = 0;
  private readonly options: ReturnType<typeof resolveContactSheet>;

  /** `output`: the writer's temporary file. */
  constructor(
    private readonly output: string,
    width: number,
    height: number,
    options: ContactSheetOptions = {},
  ) {
    this.options = resolveContactSheet(options, width, height);
    this.encoder = { codec: "png", tileWidth: this.options.tileWidth, maxTiles: this.options.maxTiles };
  }

  async write(frame: RgbFrame): Promise<void> {
    const index = this.seen++;
    if (index % this.stride !== 0) return;
    const { tileWidth, tileHeight, maxTiles } = this.options;
    const rgb =
      tileWidth === frame.width && tileHeight === frame.height
        ? frame.data.slice()
        : new Uint8Array(await sharpFromFrame(frame).resize(tileWidth, tileHeight, { fit: "fill" }).raw().toBuffer());
    this.tiles.push({ index, rgb });
    while (this.tiles.length > maxTiles) {
      this.stride *= 2;
      this.tiles = this.tiles.filter((t) => t.index % this.stride === 0);
    }
  }

  async finalize(): Promise<void> {
    const { tileWidth, tileHeight, columns } = this.options;
    const g = sheetGeometry(this.tiles.length, tileWidth, tileHeight, columns);
    const sheet = new Uint8Array(g.width * g.height * 3).fill(SHEET_BACKGROUND);
    this.tiles.forEach((tile, k) => {
      drawIndexLabel(tile.rgb, tileWidth, tileHeight, tile.index, g.labelScale);
      const left = SHEET_GAP + (k % g.columns) * (tileWidth + SHEET_GAP);
      const top = SHEET_GAP + Math.floor(k / g.columns) * (tileHeight + SHEET_GAP);
      for (let y = 0; y < tileHeight; y++) {
        const from = y * tileWidth * 3;
        sheet.set(tile.rgb.subarray(from, from + tileWidth * 3), ((top + y) * g.width + left) * 3);
      }
    });
    await sharp(sheet, { raw: { width: g.width, height: g.height, channels: 3 } }).png({ compressionLevel: 6 }).toFile(this.output);
    this.tiles = [];
  }

  async abort(): Promise<void> {
    this.tiles = [];
  }
}
