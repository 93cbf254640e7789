import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { KeyCheckError, StateDict, checkKeys, parseKeyShapeList, type TensorEntry } from "../../../src/models/weights/index.js";
import { vaeKeyFromCheckpoint } from "../../../src/models/vae/keys.js";

/** The research key lists (models-spec.md section 9): name -> shape of each model's state dict. */
const keyList = (name: string) =>
  parseKeyShapeList(readFileSync(fileURLToPath(new URL(`../../fixtures/models/keys/${name}`, import.meta.url)), "utf8"), name);

/** A state dict of shapes only: key checks never read tensor data. */
function shapesOnly(shapes: ReadonlyMap<string, readonly number[]>, source = "weights"): StateDict {
  const entries = new Map<string, TensorEntry>(
    [...shapes].map(([n, shape]) => [n, { dtype: "float32", storedDType: "float32", shape, read: () => assert.fail(`read ${n}`) }]),
  );
  return new StateDict(source, entries);
}

const isTemporal = (n: string) => n.includes("temp_");

test("missing, unexpected and wrongly shaped keys are all reported at once", () => {
  const expected = new Map([["a", [2]], ["b", [3, 4]], ["c", [4]], ["e", []]]);
  const actual = new Map([["a", [2]], ["b", [4, 3]], ["d", [1]], ["e", []]]);
  assert.throws(
    () => checkKeys(expected, actual, { label: "TinyModel from x.pth" }),
    (e: unknown) => {
      assert.ok(e instanceof KeyCheckError);
      assert.deepEqual(e.report.missing, ["c"]);
      assert.deepEqual(e.report.unexpected, ["d"]);
      assert.deepEqual(e.report.mismatched, [{ name: "b", expected: [3, 4], actual: [4, 3] }]);
      assert.equal(e.report.matched, 2);
      assert.equal(
        e.message,
        [
          "TinyModel from x.pth: the weights do not fit the model: 1 missing, 1 unexpected, 1 with the wrong shape (2 of 4 expected keys match)",
          "  missing (1):",
          "    c",
          "  unexpected (1):",
          "    d",
          "  wrong shape (1):",
          "    b: model expects [3, 4], weights have [4, 3]",
        ].join("\n"),
      );
      return true;
    },
  );
});

test("allowMissing and allowUnexpected relax only their own category; a wrong shape always fails", () => {
  const expected = new Map([["a", [2]], ["b", [3]]]);
  const report = checkKeys(expected, new Map([["a", [2]], ["x", [1]]]), { allowMissing: true, allowUnexpected: (n) => n === "x" });
  assert.deepEqual([report.missing, report.unexpected], [["b"], ["x"]]);
  assert.throws(() => checkKeys(expected, new Map([["a", [2]], ["y", [1]]]), { allowMissing: true, allowUnexpected: (n) => n === "x" }), /1 unexpected/);
  assert.throws(() => checkKeys(expected, new Map([["a", [3]]]), { allowMissing: true }), /wrong shape/);
});

test("long lists are cut in the message but complete in the report", () => {
  const expected = new Map(Array.from({ length: 50 }, (_, i) => [`k${i}`, [1]]));
  assert.throws(() => checkKeys(expected, new Map(), { listLimit: 5 }), (e: unknown) => {
    assert.ok(e instanceof KeyCheckError);
    assert.equal(e.report.missing.length, 50);
    assert.match(e.message, /missing \(50\):\n(    k\d+\n){5}    \.\.\. and 45 more/);
    assert.match(e.message, /hint: the weights hold no tensors at all/);
    return true;
  });
});

test("ModelT2V.pth layout: its unet.* and text_encoder.* parts match the authors' key lists (section 9)", () => {
  const unet = keyList("unet_vidrd.tsv");
  const clip = keyList("clip_text.tsv");
  assert.equal(unet.size, 1150);
  assert.equal(clip.size, 373);
  const checkpoint = new Map<string, readonly number[]>([
    ...[...unet].map(([n, s]): [string, number[]] => [`unet.${n}`, s]),
    ...[...clip].map(([n, s]): [string, number[]] => [`text_encoder.${n}`, s]),
    ["vae.decoder.conv_in.weight", [512, 4, 3, 3]],
  ]);
  const weights = shapesOnly(checkpoint, "ModelT2V.pth");
  assert.deepEqual([...weights.prefixCounts()], [["unet", 1150], ["text_encoder", 373], ["vae", 1]]);
  assert.equal(checkKeys(unet, weights.withPrefix("unet.")).matched, 1150);
  const clipParams = new Map([...clip].filter(([n]) => !n.endsWith("position_ids")));
  const report = checkKeys(clipParams, weights.withPrefix("text_encoder."), { allowUnexpected: (n) => n.endsWith(".position_ids") });
  assert.deepEqual(report.unexpected, ["text_model.embeddings.position_ids"]);
  // the whole checkpoint against the UNet: every key reported, and the prefix named as the likely cause
  assert.throws(() => checkKeys(unet, weights), (e: unknown) => {
    assert.ok(e instanceof KeyCheckError);
    assert.deepEqual([e.report.missing.length, e.report.unexpected.length], [1150, 1524]);
    assert.match(e.message, /hint: the weights' names start with "unet\.", "text_encoder\.", "vae\.": select one part/);
    return true;
  });
});

test("inflation: an SD 2-D UNet (the 686 non-temporal keys) fails strictly and loads with allowMissing for temporal keys", () => {
  const unet = keyList("unet_vidrd.tsv");
  const sd2d = new Map([...unet].filter(([n]) => !isTemporal(n)));
  assert.equal(sd2d.size, 686);
  assert.throws(() => checkKeys(unet, sd2d), /464 missing[\s\S]*hint: only temporal layers are missing/);
  const report = checkKeys(unet, sd2d, { allowMissing: isTemporal });
  assert.deepEqual([report.missing.length, report.matched], [464, 686]);
  assert.throws(() => checkKeys(unet, new Map([...sd2d].slice(1)), { allowMissing: isTemporal }), /465 missing/);
});

test("VAE: the 0.14 attention names (the key list's spelling) load once renamed; unrenamed they get a hint", () => {
  const legacy = keyList("vae_temporal.tsv");
  assert.equal(legacy.size, 392);
  const model = new Map([...legacy].map(([n, s]) => [vaeKeyFromCheckpoint(n), s]));
  assert.ok(model.has("decoder.mid_block.attentions.0.to_out.0.weight"));
  assert.equal(checkKeys(model, shapesOnly(legacy).mapNames(vaeKeyFromCheckpoint)).matched, 392);
  assert.throws(() => checkKeys(model, legacy), /16 missing, 16 unexpected[\s\S]*hint: the weights use diffusers <= 0\.14 attention names/);
  // 0 temporal keys in vae_finetuned's .bin is possible (models-spec 5.4): allowMissing covers it
  const spatialOnly = new Map([...legacy].filter(([n]) => !isTemporal(n)).map(([n, s]) => [vaeKeyFromCheckpoint(n), s]));
  assert.equal(checkKeys(model, spatialOnly, { allowMissing: isTemporal }).missing.length, 144);
});

test("parseKeyShapeList reads the research format and names a bad line", () => {
  assert.deepEqual([...parseKeyShapeList("# comment\na.b\t[1, 2]\nc\t[]\n")], [["a.b", [1, 2]], ["c", []]]);
  assert.throws(() => parseKeyShapeList("ok\t[1]\nbad line\n", "k.tsv"), /k\.tsv line 2: expected/);
});
