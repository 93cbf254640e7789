// The sharp-written outputs: PNG frame folders and contact sheets.

import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { VideoWriter, readImage } from "../../src/media/index.js";
import { SHEET_BACKGROUND, SHEET_GAP, sheetGeometry } from "../../src/media/contact-sheet.js";
import { LABEL_BACKGROUND, LABEL_INK, labelInkAt, labelSize } from "../../src/media/index-label.js";
import { syntheticClip, withTempDir } from "./helpers.js";

const clip = syntheticClip(10, 64, 48);

test("PNG frame folder: frame_000000.png... with exact pixels, a sidecar, and no temporary", async () => {
  await withTempDir(async (dir) => {
    const out = join(dir, "frames");
    const writer = await VideoWriter.open(out, { fps: 8, width: 64, height: 48, metadata: { prompt: "p", seed: 3 } });
    assert.equal(writer.format, "png-frames");
    for (const frame of clip) await writer.write(frame);
    await writer.close();
    assert.deepEqual(readdirSync(dir).sort(), ["frames", "frames.json"]);
    const names = readdirSync(out).sort();
    assert.deepEqual(names, clip.map((_, i) => `frame_${String(i).padStart(6, "0")}.png`));
    for (let i = 0; i < clip.length; i++) assert.deepEqual([...(await readImage(join(out, names[i]))).data], [...clip[i].data]);
    const sidecar = JSON.parse(readFileSync(join(dir, "frames.json"), "utf8")) as Record<string, unknown>;
    assert.deepEqual([sidecar.format, sidecar.frames, sidecar.seed], ["png-frames", 10, 3]);
  });
});

test("PNG frames go into a new or empty folder only", async () => {
  await withTempDir(async (dir) => {
    mkdirSync(join(dir, "empty"));
    const writer = await VideoWriter.open(join(dir, "empty/"), { fps: 8, width: 64, height: 48, sidecar: false });
    await writer.write(clip[0]);
    await writer.close();
    assert.deepEqual(readdirSync(join(dir, "empty")), ["frame_000000.png"]);
    await assert.rejects(VideoWriter.open(join(dir, "empty"), { fps: 8, width: 64, height: 48 }), /cannot write frames to .*empty: the folder is not empty; allowed: a new or empty folder/);
    writeFileSync(join(dir, "file"), "");
    await assert.rejects(VideoWriter.open(join(dir, "file"), { fps: 8, width: 64, height: 48, format: "png-frames" }), /a file is there; allowed: a new or empty folder/);
  });
});

test("contact sheet: grid size from tiles and gaps, each tile labelled with its frame index", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "sheet.png");
    const writer = await VideoWriter.open(path, { fps: 8, width: 64, height: 48, contactSheet: { columns: 4 } });
    assert.equal(writer.format, "contact-sheet");
    for (const frame of clip) await writer.write(frame);
    await writer.close();
    const sheet = await readImage(path);
    // 10 tiles of 64x48 (tileWidth defaults to min(width, 160)) in 4 columns: 3 rows.
    const g = sheetGeometry(10, 64, 48, 4);
    assert.deepEqual([g.columns, g.rows], [4, 3]);
    assert.deepEqual([sheet.width, sheet.height], [4 * 64 + 5 * SHEET_GAP, 3 * 48 + 4 * SHEET_GAP]);
    const px = (x: number, y: number): number[] => [...sheet.data.subarray((y * sheet.width + x) * 3, (y * sheet.width + x) * 3 + 3)];
    assert.deepEqual(px(0, 0), [SHEET_BACKGROUND, SHEET_BACKGROUND, SHEET_BACKGROUND]);
    assert.deepEqual(px(sheet.width - 1, sheet.height - 1), [SHEET_BACKGROUND, SHEET_BACKGROUND, SHEET_BACKGROUND], "the unused last cells stay background");
    for (let k = 0; k < 10; k++) {
      const left = SHEET_GAP + (k % 4) * (64 + SHEET_GAP);
      const top = SHEET_GAP + Math.floor(k / 4) * (48 + SHEET_GAP);
      // The label: every pixel of its box is ink or background as the font says (scale 1 below 96 px).
      const size = labelSize(k, 1);
      let ink = 0;
      for (let y = 0; y < size.height; y++) {
        for (let x = 0; x < size.width; x++) {
          const v = labelInkAt(k, x, y) ? LABEL_INK : LABEL_BACKGROUND;
          ink += v === LABEL_INK ? 1 : 0;
          assert.deepEqual(px(left + x, top + y), [v, v, v], `tile ${k}, label pixel (${x}, ${y})`);
        }
      }
      assert.ok(ink >= 7, `label ${k} has ${ink} ink pixels`);
      // Beside the label, the frame itself (a thumbnail at full size here).
      const x = 40;
      const y = 30;
      const o = (y * 64 + x) * 3;
      assert.deepEqual(px(left + x, top + y), [...clip[k].data.subarray(o, o + 3)], `tile ${k} holds frame ${k}`);
    }
  });
});

test("contact sheet: thumbnails are downscaled, and past maxTiles every other is dropped (stride doubles)", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "long.png");
    const writer = await VideoWriter.open(path, { fps: 8, width: 64, height: 48, contactSheet: { tileWidth: 32, maxTiles: 4 } });
    for (let i = 0; i < 9; i++) await writer.write(clip[i]);
    await writer.close();
    // 9 frames, at most 4 tiles: stride 1 -> 2 at frame 4 -> 4 at frame 8: tiles 0, 4, 8; 2 columns.
    const sheet = await readImage(path);
    assert.deepEqual([sheet.width, sheet.height], [2 * 32 + 3 * SHEET_GAP, 2 * 24 + 3 * SHEET_GAP]);
    const labelled = [0, 1, 2].map((k) => {
      const left = SHEET_GAP + (k % 2) * (32 + SHEET_GAP);
      const top = SHEET_GAP + Math.floor(k / 2) * (24 + SHEET_GAP);
      // The one-digit label's 3x5 glyph (font and image pixels coincide at scale 1), inside a 1-pixel margin.
      return [1, 2, 3, 4, 5].map((y) => [1, 2, 3].map((x) => sheet.data[((top + y) * sheet.width + left + x) * 3] === LABEL_INK));
    });
    const glyph = (d: number): boolean[][] => [1, 2, 3, 4, 5].map((y) => [1, 2, 3].map((x) => labelInkAt(d, x, y)));
    assert.deepEqual(labelled, [glyph(0), glyph(4), glyph(8)]);
    assert.notDeepEqual(glyph(0), glyph(8));
    await assert.rejects(VideoWriter.open(path, { fps: 8, width: 64, height: 48, contactSheet: { tileWidth: 65 } }), /contactSheet\.tileWidth is 65; allowed: an integer from 1 to 64/);
  });
});
