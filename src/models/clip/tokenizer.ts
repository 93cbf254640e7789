// CLIP's byte-level BPE tokenizer (Radford et al. 2021, section 2.4; Sennrich et al. 2016), run by
// @huggingface/tokenizers from either layout a model ships: `tokenizer.json` (the fast tokenizer), or
// `vocab.json` + `merges.txt` (what SD's tokenizer/ folders hold), turned here into the tokenizer.json
// pipeline transformers' CLIP converter writes:
//   normalize   NFC, whitespace runs -> " ", lowercase
//   split       keep CLIP's pieces: 's 't 're 've 'm 'll 'd | letter runs | single digits | other symbol runs
//   byte-level  each UTF-8 byte -> a printable symbol (GPT-2's byte-to-unicode table)
//   BPE         merges by rank; the last symbol of a word carries "</w>"
// Prompts become [BOS, tokens..., EOS, pad...] of exactly maxLength (77) ids. Longer prompts keep their
// first maxLength - 2 tokens and say what was dropped. The pad id comes from tokenizer_config.json:
// SD 2.x pads with "!" (id 0), as OpenCLIP does; SD 1.x with <|endoftext|> (transformers' default).
// Not reproduced: ftfy.fix_text and html.unescape of the Python tokenizers (mojibake repair); prompts
// with broken encodings or HTML entities can tokenize differently.

import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Tokenizer } from "@huggingface/tokenizers";
import { Tensor } from "../../tensor/tensor.js";

export const CLIP_BOS_TOKEN = "<|startoftext|>";
export const CLIP_EOS_TOKEN = "<|endoftext|>";
/** CLIP's context length. */
export const CLIP_MAX_LENGTH = 77;
const END_OF_WORD = "</w>";
/**
 * What CLIP's pre-tokenizer keeps (a Split with invert: matches are pieces, the rest is dropped). The special
 * tokens, which the Python tokenizers also match here, are split off before it as added tokens.
 */
const CLIP_PIECES = "'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+";

export class ClipTokenizerError extends Error {
  override name = "ClipTokenizerError";
}

export interface ClipTokenizerOptions {
  /** Ids per prompt, BOS and EOS included; default tokenizer_config.json's model_max_length, else 77. */
  maxLength?: number;
  /** Padding token; default tokenizer_config.json's pad_token ("!" in SD 2.x), else <|endoftext|> (SD 1.x). */
  padToken?: string;
}

/** What a prompt lost to truncation. */
export interface ClipTruncation {
  /** Tokens the prompt has (BOS and EOS not counted). */
  tokenCount: number;
  /** Tokens kept: maxLength - 2. */
  keptTokens: number;
  droppedTokens: number;
  /** The dropped tokens decoded: the words cut off (starting mid-word when the cut falls inside one). */
  droppedText: string;
  /** One line for a log: how much was cut, and what. */
  message: string;
}

export interface ClipEncoding {
  /** [BOS, tokens..., EOS, pad...]: exactly maxLength ids. */
  ids: number[];
  /** 1 for BOS through EOS, 0 for padding (SD's text encoders do not use it: they attend causally). */
  attentionMask: number[];
  /** Set when the prompt was too long. */
  truncation: ClipTruncation | null;
}

export interface ClipEncodeOptions {
  /** Called when a prompt is truncated (the same object as the encoding's `truncation`). */
  onTruncate?: (truncation: ClipTruncation, text: string) => void;
}

type JsonObject = Record<string, unknown>;

function isObject(x: unknown): x is JsonObject {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

/** A special-token field of tokenizer_config.json: a string, or an AddedToken object with `content`. */
function tokenField(config: JsonObject, field: string, label: string): string | undefined {
  const v = config[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v === "string") return v;
  if (isObject(v) && typeof v.content === "string") return v.content;
  throw new ClipTokenizerError(`${label}: ${field} must be a string or an object with "content", got ${JSON.stringify(v)}`);
}

/** merges.txt: an optional "#version" line, then one "left right" pair per line. */
export function parseMerges(text: string, label = "merges.txt"): [string, string][] {
  const lines = text.split(/\r?\n/);
  const merges: [string, string][] = [];
  lines.forEach((line, i) => {
    if (line === "" || (i === 0 && line.startsWith("#version"))) return;
    const parts = line.split(" ");
    if (parts.length !== 2 || !parts[0] || !parts[1]) {
      throw new ClipTokenizerError(`${label} line ${i + 1}: expected two symbols separated by one space, got ${JSON.stringify(line)}`);
    }
    merges.push([parts[0], parts[1]]);
  });
  return merges;
}

/**
 * The tokenizer.json pipeline of a CLIP tokenizer from vocab.json and merges.txt (transformers' CLIP
 * converter). Merges stop at the first whose result the vocab lacks: CLIP's Python tokenizers read only the
 * first 49152 - 256 - 2 merges of a longer merges file, and those are exactly the ones the vocab holds.
 */
export function clipTokenizerJson(vocab: Readonly<Record<string, number>>, merges: readonly (readonly [string, string])[], label = "vocab.json"): JsonObject {
  for (const special of [CLIP_BOS_TOKEN, CLIP_EOS_TOKEN]) {
    if (!Number.isInteger(vocab[special])) throw new ClipTokenizerError(`${label}: the vocabulary has no ${special}`);
  }
  let usable = merges.findIndex(([a, b]) => vocab[a + b] === undefined);
  if (usable < 0) usable = merges.length;
  const bos = vocab[CLIP_BOS_TOKEN]!;
  const eos = vocab[CLIP_EOS_TOKEN]!;
  return {
    version: "1.0",
    added_tokens: [
      { id: bos, content: CLIP_BOS_TOKEN, single_word: false, lstrip: false, rstrip: false, normalized: true, special: true },
      { id: eos, content: CLIP_EOS_TOKEN, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true },
    ],
    normalizer: {
      type: "Sequence",
      normalizers: [{ type: "NFC" }, { type: "Replace", pattern: { Regex: "\\s+" }, content: " " }, { type: "Lowercase" }],
    },
    pre_tokenizer: {
      type: "Sequence",
      pretokenizers: [
        { type: "Split", pattern: { Regex: CLIP_PIECES }, behavior: "Removed", invert: true },
        { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true },
      ],
    },
    post_processor: { type: "RobertaProcessing", sep: [CLIP_EOS_TOKEN, eos], cls: [CLIP_BOS_TOKEN, bos], trim_offsets: false, add_prefix_space: false },
    decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: CLIP_EOS_TOKEN,
      continuing_subword_prefix: "",
      end_of_word_suffix: END_OF_WORD,
      fuse_unk: false,
      byte_fallback: false,
      vocab,
      merges: merges.slice(0, usable).map(([a, b]) => [a, b]),
    },
  };
}

function readJson(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new ClipTokenizerError(`${path}: cannot read: ${(e as Error).message}`, { cause: e });
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ClipTokenizerError(`${path}: not valid JSON: ${(e as Error).message}`, { cause: e });
  }
}

export class ClipTokenizer {
  readonly bosId: number;
  readonly eosId: number;
  readonly padId: number;
  readonly padToken: string;
  readonly maxLength: number;

  private constructor(
    private readonly tokenizer: Tokenizer,
    config: JsonObject,
    opts: ClipTokenizerOptions,
    readonly label: string,
  ) {
    const idOf = (token: string, what: string): number => {
      const id = tokenizer.token_to_id(token);
      if (id === undefined) throw new ClipTokenizerError(`${label}: ${what} ${JSON.stringify(token)} is not in the vocabulary`);
      return id;
    };
    this.bosId = idOf(tokenField(config, "bos_token", label) ?? CLIP_BOS_TOKEN, "bos_token");
    this.eosId = idOf(tokenField(config, "eos_token", label) ?? CLIP_EOS_TOKEN, "eos_token");
    this.padToken = opts.padToken ?? tokenField(config, "pad_token", label) ?? CLIP_EOS_TOKEN;
    this.padId = idOf(this.padToken, opts.padToken !== undefined ? "padToken" : "pad_token");
    const configured = config.model_max_length;
    // transformers writes a huge sentinel (1e30) when no length is known
    const fromConfig = typeof configured === "number" && Number.isInteger(configured) && configured <= 1e6 ? configured : undefined;
    this.maxLength = opts.maxLength ?? fromConfig ?? CLIP_MAX_LENGTH;
    if (!Number.isInteger(this.maxLength) || this.maxLength < 2) {
      throw new ClipTokenizerError(`${label}: maxLength must be an integer of at least 2 (BOS and EOS), got ${this.maxLength}`);
    }
  }

  /** From a parsed tokenizer.json and (optionally) tokenizer_config.json. */
  static fromTokenizerJson(tokenizerJson: unknown, tokenizerConfig: unknown = {}, opts: ClipTokenizerOptions = {}, label = "tokenizer.json"): ClipTokenizer {
    if (!isObject(tokenizerJson) || !isObject(tokenizerJson.model)) throw new ClipTokenizerError(`${label}: expected a tokenizer.json object with a "model"`);
    if (!isObject(tokenizerConfig)) throw new ClipTokenizerError(`${label}: tokenizer_config.json must be an object`);
    const json = { added_tokens: [], ...tokenizerJson };
    return new ClipTokenizer(new Tokenizer(json, tokenizerConfig), tokenizerConfig, opts, label);
  }

  /** From a parsed vocab.json, the text of merges.txt and (optionally) tokenizer_config.json. */
  static fromVocabAndMerges(vocab: unknown, mergesText: string, tokenizerConfig: unknown = {}, opts: ClipTokenizerOptions = {}, label = "vocab.json + merges.txt"): ClipTokenizer {
    if (!isObject(vocab) || !Object.values(vocab).every((id) => Number.isInteger(id))) {
      throw new ClipTokenizerError(`${label}: vocab.json must map tokens to integer ids`);
    }
    const json = clipTokenizerJson(vocab as Record<string, number>, parseMerges(mergesText), label);
    return ClipTokenizer.fromTokenizerJson(json, tokenizerConfig, opts, label);
  }

  /**
   * Loads a tokenizer folder: tokenizer.json when present, else vocab.json + merges.txt; plus
   * tokenizer_config.json and special_tokens_map.json when present (the config wins where both say).
   */
  static load(dir: string, opts: ClipTokenizerOptions = {}): ClipTokenizer {
    const path = (name: string) => join(dir, name);
    const config: JsonObject = {};
    for (const name of ["special_tokens_map.json", "tokenizer_config.json"]) {
      if (!existsSync(path(name))) continue;
      const json = readJson(path(name));
      if (!isObject(json)) throw new ClipTokenizerError(`${path(name)}: expected a JSON object`);
      Object.assign(config, json);
    }
    if (existsSync(path("tokenizer.json"))) return ClipTokenizer.fromTokenizerJson(readJson(path("tokenizer.json")), config, opts, path("tokenizer.json"));
    const missing = ["vocab.json", "merges.txt"].filter((n) => !existsSync(path(n)));
    if (missing.length) {
      throw new ClipTokenizerError(`${dir}: no tokenizer.json, and no ${missing.join(" or ")}: a CLIP tokenizer needs tokenizer.json or vocab.json + merges.txt`);
    }
    return ClipTokenizer.fromVocabAndMerges(readJson(path("vocab.json")), readFileSync(path("merges.txt"), "utf8"), config, opts, dir);
  }

  /** Number of ids, special tokens included. */
  get vocabSize(): number {
    return this.tokenizer.get_vocab(true).size;
  }

  /** The BPE tokens of a prompt, without BOS / EOS and before truncation. */
  tokenize(text: string): string[] {
    return this.tokenizer.encode(text, { add_special_tokens: false }).tokens;
  }

  /** One prompt -> exactly maxLength ids. */
  encode(text: string, opts: ClipEncodeOptions = {}): ClipEncoding {
    const content = this.tokenizer.encode(text, { add_special_tokens: false }).ids;
    const room = this.maxLength - 2;
    let truncation: ClipTruncation | null = null;
    if (content.length > room) {
      const dropped = content.slice(room);
      const droppedText = this.tokenizer.decode(dropped, { clean_up_tokenization_spaces: false }).trim();
      truncation = {
        tokenCount: content.length,
        keptTokens: room,
        droppedTokens: dropped.length,
        droppedText,
        message:
          `prompt truncated: it has ${content.length} tokens and ${room} fit in ${this.maxLength} ` +
          `(with ${CLIP_BOS_TOKEN} and ${CLIP_EOS_TOKEN}); dropped ${dropped.length}: ${JSON.stringify(droppedText)}`,
      };
      opts.onTruncate?.(truncation, text);
    }
    const kept = content.slice(0, room);
    const ids = [this.bosId, ...kept, this.eosId];
    const attentionMask = ids.map(() => 1);
    while (ids.length < this.maxLength) {
      ids.push(this.padId);
      attentionMask.push(0);
    }
    return { ids, attentionMask, truncation };
  }

  /** Prompts -> int64 [N, maxLength] ids for the text encoder, and each prompt's encoding. */
  encodeBatch(texts: readonly string[], opts: ClipEncodeOptions = {}): { ids: Tensor<"int64">; encodings: ClipEncoding[] } {
    const encodings = texts.map((t) => this.encode(t, opts));
    const ids = Tensor.int64(encodings.flatMap((e) => e.ids), [texts.length, this.maxLength]);
    return { ids, encodings };
  }

  /** Ids -> text; "</w>" becomes a space, special tokens and padding after EOS are left out. */
  decode(ids: readonly number[]): string {
    const end = ids.indexOf(this.eosId, ids[0] === this.bosId ? 1 : 0);
    const body = (end >= 0 ? ids.slice(0, end) : [...ids]).filter((id) => id !== this.bosId && id !== this.eosId);
    if (body.length === 0) return "";
    return this.tokenizer.decode(body, { skip_special_tokens: true, clean_up_tokenization_spaces: false }).trim();
  }
}
