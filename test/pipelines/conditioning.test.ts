import { test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { encodeSafetensors, readSafetensors, SafetensorsFile } from "../../src/io/index.js";
import { ClipTextEncoder, ClipTokenizer, clipTextConfigFromJson } from "../../src/models/clip/index.js";
import { Tensor } from "../../src/tensor/tensor.js";
import {
  type TextEncoder,
  encodePrompt,
  readPromptEmbeddings,
  tokenizedTextEncoder,
  writePromptEmbeddings,
} from "../../src/pipelines/conditioning.js";

/** Row k of the output is filled with (k + 1) * 10 + the text's length: which text went where shows. */
function fakeEncoder(seen: string[][]): TextEncoder {
  return {
    async encode(texts) {
      seen.push(texts);
      const out = new Float32Array(texts.length * 3 * 2);
      texts.forEach((t, k) => out.fill((k + 1) * 10 + t.length, k * 6, (k + 1) * 6));
      return new Tensor("float32", out, [texts.length, 3, 2]);
    },
  };
}

test("prompt and negative are encoded in one call, [negative, prompt]; the empty negative is encoded too", async () => {
  const seen: string[][] = [];
  const p = await encodePrompt(fakeEncoder(seen), "a cat", "watermark");
  assert.deepEqual(seen, [["watermark", "a cat"]]);
  assert.deepEqual(p.uncond.shape, [1, 3, 2]);
  assert.deepEqual([...p.uncond.data], new Array(6).fill(19));
  assert.deepEqual([...p.cond.data], new Array(6).fill(25));
  await encodePrompt(fakeEncoder(seen), "a dog");
  assert.deepEqual(seen[1], ["", "a dog"]);
  const bad: TextEncoder = { encode: async () => new Tensor("float32", new Float32Array(6), [1, 3, 2]) };
  await assert.rejects(encodePrompt(bad, "x"), /the text encoder returned float32\[1, 3, 2\] for 2 prompts; expected float32 \[2, L, D\]/);
});

test("the CLIP tokenizer and text encoder of src/models/clip fit through tokenizedTextEncoder", async () => {
  const fixture = fileURLToPath(new URL("../fixtures/clip/text-encoder.safetensors", import.meta.url));
  const config = clipTextConfigFromJson(JSON.parse(SafetensorsFile.open(fixture).metadata.config!));
  const weights = new Map([...readSafetensors(fixture)].filter(([n]) => n.startsWith("text_model.")));
  const tokenizer = ClipTokenizer.load(fileURLToPath(new URL("../fixtures/clip/tokenizer-sd2", import.meta.url)));
  const clip = await ClipTextEncoder.create(config, weights, { threads: 1 });
  try {
    const p = await encodePrompt(tokenizedTextEncoder(tokenizer, clip), "a photo of a cat");
    assert.deepEqual(p.cond.shape, [1, 77, 64]);
    const direct = (await clip.encode(tokenizer.encodeBatch(["a photo of a cat"]).ids)).last_hidden_state!;
    assert.deepEqual([...p.cond.data], [...direct.data]);
    const empty = (await clip.encode(tokenizer.encodeBatch([""]).ids)).last_hidden_state!;
    assert.deepEqual([...p.uncond.data], [...empty.data]);
    assert.throws(() => tokenizedTextEncoder(tokenizer, clip, "pooled"), /text encoder output "pooled" does not exist; allowed: last_hidden_state/);
  } finally {
    await clip.release();
  }
});

const emb = (v: number, shape = [1, 2, 3]) => new Tensor("float32", new Float32Array(shape.reduce((a, b) => a * b)).fill(v), shape);

test("embeddings files: cond/uncond or diffusers' names, F16 widened, written and read back", () => {
  const dir = mkdtempSync(join(tmpdir(), "vidrd-emb-"));
  try {
    const path = join(dir, "p.safetensors");
    writePromptEmbeddings(path, { cond: emb(1.5), uncond: emb(-2) });
    const back = readPromptEmbeddings(path);
    assert.deepEqual([...back.cond.data], new Array(6).fill(1.5));
    assert.deepEqual([...back.uncond.data], new Array(6).fill(-2));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const diffusers = encodeSafetensors({ prompt_embeds: emb(0.25, [2, 2, 3]), negative_prompt_embeds: emb(0.5, [2, 2, 3]) }, {}, { float32As: "F16" });
  const p = readPromptEmbeddings(diffusers, "diffusers.safetensors");
  assert.equal(p.cond.dtype, "float32");
  assert.deepEqual(p.cond.shape, [2, 2, 3]);
  assert.deepEqual([...p.uncond.data], new Array(12).fill(0.5));
});

test("embeddings files with the wrong names, dtypes or shapes say what the file has and what is allowed", () => {
  const cases: [Record<string, Tensor>, RegExp][] = [
    [{ text: emb(1) }, /e\.safetensors: no prompt embeddings pair; expected tensors "cond" \+ "uncond", or "prompt_embeds" \+ "negative_prompt_embeds"; the file has "text"/],
    [{ cond: emb(1) }, /has "cond" but not "uncond"; classifier-free guidance needs both/],
    [{ cond: emb(1), uncond: emb(1), extra: emb(1) }, /unexpected tensor\(s\) "extra"; allowed: only "cond" and "uncond"/],
    [{ cond: emb(1), uncond: emb(1), prompt_embeds: emb(1) }, /more than one prompt embeddings pair/],
    [{ cond: emb(1, [2, 3]), uncond: emb(1, [2, 3]) }, /tensor "cond" has shape \[2, 3\]; allowed: \[1, L, D\] or \[B, L, D\]/],
    [{ cond: emb(1), uncond: emb(1, [1, 2, 4]) }, /"cond" is \[1, 2, 3\] but "uncond" is \[1, 2, 4\]; they must have the same shape/],
    [{ cond: Tensor.int32([1, 2, 3, 4, 5, 6], [1, 2, 3]), uncond: emb(1) }, /tensor "cond" has dtype I32; allowed: F32, F16 or BF16/],
  ];
  for (const [tensors, message] of cases) assert.throws(() => readPromptEmbeddings(encodeSafetensors(tensors), "e.safetensors"), message);
});
