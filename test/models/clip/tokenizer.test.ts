// The CLIP tokenizer on a small CLIP-style BPE vocabulary (test/fixtures/clip/tokenizer-*), against
// encodings by an independent plain-Python BPE (tokenizer-expected.json; both written by
// tools/fixtures/clip_fixture.py). Both file layouts go through ClipTokenizer.load, the code that will load
// the real 49408-token vocabulary.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { CLIP_EOS_TOKEN, ClipTokenizer, ClipTokenizerError, type ClipTruncation, parseMerges } from "../../../src/models/clip/index.js";

const fixturePath = (name: string) => fileURLToPath(new URL(`../../fixtures/clip/${name}`, import.meta.url));

interface Case {
  text: string;
  tokens: string[];
  content_ids: number[];
  ids_pad_bang: number[];
  ids_pad_eos: number[];
  dropped_text?: string;
  dropped_tokens?: number;
}
const expected = JSON.parse(readFileSync(fixturePath("tokenizer-expected.json"), "utf8")) as {
  vocab_size: number;
  bos_id: number;
  eos_id: number;
  max_length: number;
  cases: Case[];
};

// SD 2.x layout: vocab.json + merges.txt, pad "!"; the tokenizer.json layout is configured as SD 1.x (pad EOS).
const sd2 = ClipTokenizer.load(fixturePath("tokenizer-sd2"));
const fast = ClipTokenizer.load(fixturePath("tokenizer-json"));

test("both layouts read the special tokens, pad id and length from the files", () => {
  for (const tok of [sd2, fast]) {
    assert.equal(tok.bosId, expected.bos_id);
    assert.equal(tok.eosId, expected.eos_id);
    assert.equal(tok.maxLength, expected.max_length);
    assert.equal(tok.vocabSize, expected.vocab_size);
  }
  assert.equal(sd2.padToken, "!");
  assert.equal(sd2.padId, 0); // "!" is id 0, as in the real CLIP vocabulary
  assert.equal(fast.padToken, CLIP_EOS_TOKEN);
  assert.equal(fast.padId, expected.eos_id);
});

for (const c of expected.cases) {
  test(`encodes ${JSON.stringify(c.text.length > 40 ? `${c.text.slice(0, 40)}...` : c.text)} as the Python reference does`, () => {
    for (const [layout, tok, want] of [["vocab.json + merges.txt", sd2, c.ids_pad_bang], ["tokenizer.json", fast, c.ids_pad_eos]] as const) {
      assert.deepEqual(tok.tokenize(c.text), c.tokens, `${layout}: tokens`);
      const enc = tok.encode(c.text);
      assert.deepEqual(enc.ids, want, `${layout}: ids`);
      const real = Math.min(c.content_ids.length, expected.max_length - 2) + 2;
      assert.deepEqual(enc.attentionMask, want.map((_, i) => (i < real ? 1 : 0)), `${layout}: attention mask`);
      assert.equal(enc.truncation === null, c.dropped_text === undefined, `${layout}: truncation reported iff too long`);
    }
  });
}

test("a prompt that is too long keeps 75 tokens, ends in EOS and names the words it dropped", () => {
  const long = expected.cases.find((c) => c.dropped_text !== undefined)!;
  for (const tok of [sd2, fast]) {
    const seen: [ClipTruncation, string][] = [];
    const enc = tok.encode(long.text, { onTruncate: (t, text) => seen.push([t, text]) });
    assert.equal(enc.ids.length, 77);
    assert.equal(enc.ids[76], expected.eos_id);
    assert.deepEqual(enc.ids.slice(1, 76), long.content_ids.slice(0, 75));
    const t = enc.truncation!;
    assert.deepEqual(seen, [[t, long.text]]);
    assert.equal(t.tokenCount, long.content_ids.length);
    assert.equal(t.keptTokens, 75);
    assert.equal(t.droppedTokens, long.dropped_tokens);
    assert.equal(t.droppedText, long.dropped_text);
    assert.ok(t.droppedText.endsWith("and then the unicorn danced away"));
    assert.equal(
      t.message,
      `prompt truncated: it has ${long.content_ids.length} tokens and 75 fit in 77 (with <|startoftext|> and <|endoftext|>); ` +
        `dropped ${long.dropped_tokens}: ${JSON.stringify(long.dropped_text)}`,
    );
  }
});

test("options override the pad token and the length", () => {
  const c = expected.cases[0]!;
  assert.deepEqual(ClipTokenizer.load(fixturePath("tokenizer-sd2"), { padToken: CLIP_EOS_TOKEN }).encode(c.text).ids, c.ids_pad_eos);
  const short = ClipTokenizer.load(fixturePath("tokenizer-json"), { padToken: "!", maxLength: 5 });
  const enc = short.encode(c.text);
  assert.deepEqual(enc.ids, [expected.bos_id, ...c.content_ids.slice(0, 3), expected.eos_id]);
  assert.equal(enc.truncation!.droppedText, "a cat");
  assert.deepEqual(short.encode("").ids, [expected.bos_id, expected.eos_id, 0, 0, 0]);
});

test("encodeBatch gives int64 [N, 77] ids for the text encoder", () => {
  const texts = expected.cases.slice(0, 3).map((c) => c.text);
  const { ids, encodings } = sd2.encodeBatch(texts);
  assert.equal(ids.dtype, "int64");
  assert.deepEqual(ids.shape, [3, 77]);
  assert.deepEqual(Array.from(ids.data, Number), expected.cases.slice(0, 3).flatMap((c) => c.ids_pad_bang));
  assert.equal(encodings.length, 3);
});

test("decode undoes encode up to CLIP's cleanup (lowercase, one space, spaces around symbols)", () => {
  assert.equal(sd2.decode(sd2.encode("  A   Red\tFox\n running in the SNOW ").ids), "a red fox running in the snow");
  assert.equal(fast.decode(fast.encode("caf\u00e9 cr\u00e8me br\u00fbl\u00e9e").ids), "caf\u00e9 cr\u00e8me br\u00fbl\u00e9e");
  assert.equal(sd2.decode(sd2.encode("mars, 4k!!").ids), "mars , 4 k !!");
  assert.equal(sd2.decode(sd2.encode("").ids), "");
});

test("merges whose result the vocabulary lacks are not used (CLIP reads only the merges its vocab holds)", () => {
  const dir = fixturePath("tokenizer-sd2");
  const vocab = JSON.parse(readFileSync(join(dir, "vocab.json"), "utf8")) as Record<string, number>;
  const merges = readFileSync(join(dir, "merges.txt"), "utf8");
  assert.ok(vocab["qu"] === undefined && parseMerges(merges).length === 86);
  // "q u" would make a token "qu" that has no id: without the cut it would encode as <|endoftext|> (unk)
  const tok = ClipTokenizer.fromVocabAndMerges(vocab, `${merges}q u\n`, { pad_token: "!" });
  const zebra = expected.cases.find((c) => c.text.includes("quinoa"))!;
  assert.deepEqual(tok.encode(zebra.text).ids, zebra.ids_pad_bang);
});

test("file and field errors name the file, the field and the value", () => {
  const dir = mkdtempSync(join(tmpdir(), "vidrd-clip-tok-"));
  try {
    assert.throws(() => ClipTokenizer.load(dir), /no tokenizer\.json, and no vocab\.json or merges\.txt/);
    writeFileSync(join(dir, "vocab.json"), "{not json");
    writeFileSync(join(dir, "merges.txt"), "#version: 0.2\na b\n");
    assert.throws(() => ClipTokenizer.load(dir), (e: unknown) => e instanceof ClipTokenizerError && /vocab\.json: not valid JSON/.test(e.message));
    writeFileSync(join(dir, "vocab.json"), JSON.stringify({ a: 0, b: 1 }));
    assert.throws(() => ClipTokenizer.load(dir), /the vocabulary has no <\|startoftext\|>/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.throws(() => ClipTokenizer.load(fixturePath("tokenizer-sd2"), { padToken: "<pad>" }), /padToken "<pad>" is not in the vocabulary/);
  assert.throws(() => parseMerges("#version: 0.2\na b\nabc\n"), /merges\.txt line 3: expected two symbols separated by one space, got "abc"/);
  const fastJson = JSON.parse(readFileSync(fixturePath("tokenizer-json/tokenizer.json"), "utf8"));
  assert.throws(() => ClipTokenizer.fromTokenizerJson(fastJson, { pad_token: 7 }), /pad_token must be a string or an object with "content", got 7/);
  assert.throws(() => ClipTokenizer.fromTokenizerJson(fastJson, {}, { maxLength: 1 }), /maxLength must be an integer of at least 2/);
});

test("property: any text gives maxLength ids [BOS, tokens, EOS, pad...]; short word lists decode back to themselves", () => {
  const word = fc.stringMatching(/^[a-z]{1,8}$/);
  const space = fc.constantFrom(" ", "  ", "\t", "\n ");
  fc.assert(
    fc.property(fc.array(fc.tuple(word, space), { maxLength: 40 }), fc.string({ maxLength: 30 }), (words, noise) => {
      const text = words.map(([w, s]) => w + s).join("") + noise;
      for (const tok of [sd2, fast]) {
        const { ids, attentionMask, truncation } = tok.encode(text);
        assert.equal(ids.length, 77);
        assert.equal(ids[0], tok.bosId);
        const real = attentionMask.indexOf(0) < 0 ? 77 : attentionMask.indexOf(0);
        assert.equal(ids[real - 1], tok.eosId);
        assert.ok(ids.slice(real).every((id) => id === tok.padId));
        assert.equal(truncation !== null, tok.tokenize(text).length > 75);
      }
      const plain = words.map(([w]) => w).join(" ");
      if (sd2.tokenize(plain).length <= 75) assert.equal(sd2.decode(sd2.encode(plain).ids), plain);
    }),
    // A fixed seed keeps CI reproducible.
    { numRuns: 200, seed: 20261125 },
  );
});
