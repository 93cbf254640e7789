// Prompt and negative prompt -> PromptConditioning, the two embeddings classifier-free guidance needs:
// from a text encoder, or from a safetensors file a user brings (e.g. embeddings exported from a PyTorch
// pipeline, or weighted prompts made elsewhere).

import { SafetensorsFile } from "../io/safetensors.js";
import { writeSafetensors } from "../io/safetensors-writer.js";
import { float16ToFloat32Array } from "../tensor/float16.js";
import { Tensor } from "../tensor/tensor.js";
import type { PromptConditioning } from "./types.js";

/** What the pipelines need of a text encoder: prompts in, embeddings [n, L, D] float32 out (row k for texts[k]). */
export interface TextEncoder {
  encode(texts: string[]): Promise<Tensor>;
}

/** The negative prompt SD uses when none is given: the empty string, encoded like any prompt. */
export const EMPTY_NEGATIVE_PROMPT = "";

export class PromptEmbeddingsError extends Error {
  override readonly name = "PromptEmbeddingsError";
}

/** The parts of ClipTokenizer and ClipTextEncoder (src/models/clip) a TextEncoder is made of. */
export interface TokenizerLike {
  encodeBatch(texts: readonly string[]): { ids: Tensor };
}
export interface IdsEncoderLike {
  encode(ids: Tensor): Promise<Record<string, Tensor>>;
  readonly outputNames: readonly string[];
}

/**
 * A TextEncoder from a tokenizer and an ids -> hidden states encoder (ClipTokenizer + ClipTextEncoder):
 * texts -> ids int64 [n, 77] -> output `output` (default the encoder's first) [n, 77, D].
 */
export function tokenizedTextEncoder(tokenizer: TokenizerLike, encoder: IdsEncoderLike, output?: string): TextEncoder {
  const name = output ?? encoder.outputNames[0];
  if (name === undefined || !encoder.outputNames.includes(name)) {
    throw new RangeError(`text encoder output ${JSON.stringify(output)} does not exist; allowed: ${encoder.outputNames.join(", ")}`);
  }
  return {
    async encode(texts: string[]): Promise<Tensor> {
      const { ids } = tokenizer.encodeBatch(texts);
      const out = await encoder.encode(ids);
      return out[name]!;
    },
  };
}

/** Row `k` of [n, L, D] as [1, L, D] (a copy). */
function row(t: Tensor<"float32">, k: number): Tensor<"float32"> {
  const [, L, D] = t.shape;
  return new Tensor("float32", t.data.slice(k * L * D, (k + 1) * L * D), [1, L, D]);
}

/**
 * Encodes [negative, prompt] in one encoder call; cond and uncond come back as [1, L, D] each (guidance
 * expands them over the batch). An empty negative prompt is encoded, as SD does, not replaced by zeros.
 */
export async function encodePrompt(encoder: TextEncoder, prompt: string, negativePrompt: string = EMPTY_NEGATIVE_PROMPT): Promise<PromptConditioning> {
  if (typeof prompt !== "string") throw new TypeError(`prompt is ${JSON.stringify(prompt)}; allowed: a string`);
  if (typeof negativePrompt !== "string") throw new TypeError(`negativePrompt is ${JSON.stringify(negativePrompt)}; allowed: a string`);
  const out = await encoder.encode([negativePrompt, prompt]);
  if (out.dtype !== "float32" || out.rank !== 3 || out.shape[0] !== 2) {
    throw new Error(`the text encoder returned ${out.describe()} for 2 prompts; expected float32 [2, L, D]`);
  }
  const both = out as Tensor<"float32">;
  return { uncond: row(both, 0), cond: row(both, 1) };
}

/**
 * The tensor names a prompt embeddings file may use, as [prompt, negative prompt] pairs: our own, and
 * diffusers' argument names. A file holds exactly one pair.
 */
export const PROMPT_EMBEDDING_NAMES: readonly (readonly [string, string])[] = [
  ["cond", "uncond"],
  ["prompt_embeds", "negative_prompt_embeds"],
];

function readEmbedding(file: SafetensorsFile, name: string): Tensor<"float32"> {
  const info = file.info(name);
  if (!["F32", "F16", "BF16"].includes(info.dtype)) {
    throw new PromptEmbeddingsError(`${file.label}: tensor "${name}" has dtype ${info.dtype}; allowed: F32, F16 or BF16`);
  }
  if (info.shape.length !== 3 || info.shape.some((d) => d < 1)) {
    throw new PromptEmbeddingsError(`${file.label}: tensor "${name}" has shape [${info.shape.join(", ")}]; allowed: [1, L, D] or [B, L, D] (L tokens, D channels, none 0)`);
  }
  const t = file.read(name);
  // F16 reads as half bit patterns, BF16 already widened to float32 by the reader
  return t.dtype === "float16" ? new Tensor("float32", float16ToFloat32Array(t.data as Uint16Array), t.shape) : (t as Tensor<"float32">);
}

/**
 * Prompt embeddings from a safetensors file (a path, or the file's bytes): one pair of tensors named as in
 * PROMPT_EMBEDDING_NAMES ("cond" + "uncond", or "prompt_embeds" + "negative_prompt_embeds"), F32, F16 or
 * BF16 (widened to float32), both [1, L, D] or [B, L, D] of the same shape. Other tensors are refused, so a
 * file meant for something else is not taken for embeddings by accident.
 */
export function readPromptEmbeddings(pathOrBytes: string | Uint8Array, label?: string): PromptConditioning {
  const file = typeof pathOrBytes === "string" ? SafetensorsFile.open(pathOrBytes) : SafetensorsFile.fromBytes(pathOrBytes, label);
  try {
    const names = file.names();
    const pairs = PROMPT_EMBEDDING_NAMES.filter(([c]) => names.includes(c));
    const expected = PROMPT_EMBEDDING_NAMES.map(([c, u]) => `"${c}" + "${u}"`).join(", or ");
    if (pairs.length !== 1) {
      const found = names.length ? names.map((n) => `"${n}"`).join(", ") : "no tensors";
      throw new PromptEmbeddingsError(`${file.label}: ${pairs.length ? "more than one" : "no"} prompt embeddings pair; expected tensors ${expected}; the file has ${found}`);
    }
    const [condName, uncondName] = pairs[0]!;
    if (!names.includes(uncondName)) {
      throw new PromptEmbeddingsError(`${file.label}: has "${condName}" but not "${uncondName}"; classifier-free guidance needs both (encode an empty negative prompt for the usual uncond)`);
    }
    const extra = names.filter((n) => n !== condName && n !== uncondName);
    if (extra.length > 0) throw new PromptEmbeddingsError(`${file.label}: unexpected tensor(s) ${extra.map((n) => `"${n}"`).join(", ")}; allowed: only "${condName}" and "${uncondName}"`);
    const cond = readEmbedding(file, condName);
    const uncond = readEmbedding(file, uncondName);
    if (cond.shape.some((d, i) => d !== uncond.shape[i])) {
      throw new PromptEmbeddingsError(`${file.label}: "${condName}" is [${cond.shape.join(", ")}] but "${uncondName}" is [${uncond.shape.join(", ")}]; they must have the same shape`);
    }
    return { cond, uncond };
  } finally {
    file.close();
  }
}

/** Writes a PromptConditioning as "cond" and "uncond" (float32), the file readPromptEmbeddings reads. */
export function writePromptEmbeddings(path: string, prompt: PromptConditioning, metadata: Readonly<Record<string, string>> = {}): void {
  writeSafetensors(path, { cond: prompt.cond, uncond: prompt.uncond }, metadata);
}
