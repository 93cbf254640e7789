import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { Tensor } from "../../src/tensor/tensor.js";
import { SafetensorsFile, encodeSafetensors, readSafetensors, writeSafetensors } from "../../src/io/index.js";
import { withTempDir } from "./helpers.js";

const conversions = JSON.parse(
  readFileSync(fileURLToPath(new URL("../fixtures/io/float-conversions.json", import.meta.url)), "utf8"),
) as { float32_bits: number[]; float16_bits: number[]; bfloat16_bits: number[] };


function bytesOf(data: ArrayBufferView): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

test("every dtype round-trips through a file bit for bit", () => {
  const every16 = Uint16Array.from({ length: 65536 }, (_, i) => i); // all half patterns: NaNs, infinities, subnormals
  const tensors: Record<string, Tensor> = {
    f32: new Tensor("float32", new Float32Array(Uint32Array.from([0, 0x80000000, 0x7f800000, 0x7fc00001, 1, 0x3f800000, 0xc2c80000]).buffer), [7]),
    f16: new Tensor("float16", every16, [256, 256]),
    i64: Tensor.int64([-(2n ** 63n), 2n ** 63n - 1n, 0n, -5n], [2, 2]),
    i32: Tensor.int32([-(2 ** 31), 2 ** 31 - 1, 0], [3, 1]),
    u8: new Tensor("uint8", Uint8Array.from({ length: 256 }, (_, i) => i), [16, 16]),
    bool: new Tensor("bool", Uint8Array.from([1, 0, 0, 1]), [2, 1, 2]),
    scalar: Tensor.float32([42], []),
    empty: Tensor.zeros("int32", [3, 0, 2]),
  };
  withTempDir((dir) => {
    const path = join(dir, "all.safetensors");
    writeSafetensors(path, tensors, { purpose: "round trip" });
    assert.deepEqual(Buffer.from(readFileSync(path)), Buffer.from(encodeSafetensors(tensors, { purpose: "round trip" })));
    const file = SafetensorsFile.open(path);
    try {
      assert.deepEqual({ ...file.metadata }, { purpose: "round trip" });
      for (const [name, want] of Object.entries(tensors)) {
        const got = file.read(name);
        assert.equal(got.dtype, want.dtype, name);
        assert.deepEqual(got.shape, want.shape, name);
        assert.deepEqual(bytesOf(got.data), bytesOf(want.data), name);
      }
    } finally {
      file.close();
    }
  });
});

test("float32 written as F16 matches numpy's round-to-nearest-even, bit for bit", () => {
  const x = new Float32Array(Uint32Array.from(conversions.float32_bits).buffer);
  const bytes = encodeSafetensors({ x: new Tensor("float32", x, [x.length]) }, undefined, { float32As: "F16" });
  const file = SafetensorsFile.fromBytes(bytes);
  assert.equal(file.info("x").dtype, "F16");
  const got = file.read("x");
  assert.equal(got.dtype, "float16");
  assert.deepEqual([...got.data], conversions.float16_bits);
});

test("float32 written as BF16 matches PyTorch's rounding bit for bit and reads back within bf16 precision", () => {
  const x = new Float32Array(Uint32Array.from(conversions.float32_bits).buffer);
  const file = SafetensorsFile.fromBytes(encodeSafetensors({ x: new Tensor("float32", x, [x.length]) }, undefined, { float32As: "BF16" }));
  assert.equal(file.info("x").dtype, "BF16");
  const bits = new Uint16Array(file.readRaw("x").buffer);
  for (let i = 0; i < x.length; i++) {
    // PyTorch's vectorized CPU path encodes every NaN as 0xFFFF; any quiet-NaN encoding is right.
    if (Number.isNaN(x[i])) assert.ok((bits[i] & 0x7f80) === 0x7f80 && (bits[i] & 0x7f) !== 0, `NaN -> ${bits[i].toString(16)}`);
    else assert.equal(bits[i], conversions.bfloat16_bits[i], `bf16(${x[i]})`);
  }
  const back = file.read("x").data as Float32Array;
  for (let i = 0; i < x.length; i++) {
    if (Number.isNaN(x[i])) assert.ok(Number.isNaN(back[i]));
    else if (Math.abs(x[i]) >= (2 - 2 ** -8) * 2 ** 127) assert.equal(Math.abs(back[i]), Infinity); // rounds past bf16 max
    // bf16 keeps 8 significant bits (ulp 2^-7 at 1): relative error at most half an ulp, 2^-8;
    // below 2^-126 the spacing is 2^-133, so the absolute error is at most 2^-134
    else assert.ok(Math.abs(back[i] - x[i]) <= Math.abs(x[i]) * 2 ** -8 + 2 ** -134, `${x[i]} -> ${back[i]}`);
  }
});

test("property: random tensor sets round-trip through encode and read", () => {
  const dims = fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 });
  const tensorArb = fc.oneof(
    dims.chain((shape) => fc.float32Array({ minLength: count(shape), maxLength: count(shape) }).map((d) => new Tensor("float32", d, shape) as Tensor)),
    dims.chain((shape) => fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: count(shape), maxLength: count(shape) }).map((d) => new Tensor("float16", Uint16Array.from(d), shape) as Tensor)),
    dims.chain((shape) => fc.array(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), { minLength: count(shape), maxLength: count(shape) }).map((d) => new Tensor("int64", BigInt64Array.from(d), shape) as Tensor)),
    dims.chain((shape) => fc.int32Array({ minLength: count(shape), maxLength: count(shape) }).map((d) => new Tensor("int32", d, shape) as Tensor)),
    dims.chain((shape) => fc.uint8Array({ minLength: count(shape), maxLength: count(shape) }).map((d) => new Tensor("uint8", d, shape) as Tensor)),
  );
  const names = fc.string({ unit: "binary", maxLength: 8 }).filter((n) => n !== "__metadata__");
  fc.assert(
    fc.property(fc.dictionary(names, tensorArb, { maxKeys: 6 }), fc.dictionary(fc.string(), fc.string(), { maxKeys: 3 }), (tensors, metadata) => {
      const bytes = encodeSafetensors(tensors, metadata);
      assert.equal(new DataView(bytes.buffer).getBigUint64(0, true) % 8n, 0n);
      const file = SafetensorsFile.fromBytes(bytes);
      assert.deepEqual({ ...file.metadata }, { ...metadata });
      const back = readSafetensors(bytes);
      assert.deepEqual(new Set(back.keys()), new Set(Object.keys(tensors)));
      for (const [name, want] of Object.entries(tensors)) {
        const got = back.get(name)!;
        assert.equal(got.dtype, want.dtype);
        assert.deepEqual(got.shape, want.shape);
        assert.deepEqual(bytesOf(got.data), bytesOf(want.data));
        // The reference layout aligns every tensor to its item size within the file.
        const begin = 8 + Number(new DataView(bytes.buffer).getBigUint64(0, true)) + file.info(name).dataOffsets[0];
        assert.equal(begin % want.data.BYTES_PER_ELEMENT, 0);
      }
    }),
    { numRuns: 200 },
  );
});

function count(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

test("narrowing streams large tensors in chunks without mixing them up", () => {
  // 200k elements span several conversion chunks; integers below 256 are exact in BF16 and F16.
  const n = 200_003;
  const values = Float32Array.from({ length: n }, (_, i) => (i % 251) - 125);
  withTempDir((dir) => {
    for (const storage of ["BF16", "F16"] as const) {
      const path = join(dir, `${storage}.safetensors`);
      writeSafetensors(path, { a: new Tensor("float32", values, [n]), b: Tensor.float32([2]) }, undefined, { float32As: storage });
      const file = SafetensorsFile.open(path);
      const raw = new Uint16Array(file.readRaw("a").buffer);
      // Hand-known bits: 1.0 is 0x3F80 in BF16 and 0x3C00 in F16 (element 65637, in the second
      // chunk, holds 1); 2.0 is 0x4000 in both.
      assert.equal(raw[126 + 251 * 261], storage === "BF16" ? 0x3f80 : 0x3c00);
      assert.equal(new Uint16Array(file.readRaw("b").buffer)[0], 0x4000);
      if (storage === "BF16") assert.deepEqual(file.read("a").data, values);
      else {
        const half = file.read("a").data as Uint16Array;
        for (let i = 0; i < n; i += 4999) assert.equal(half[i], float16OfSmallInteger(values[i]), `element ${i}`);
      }
      file.close();
    }
  });
});

/** IEEE half bits of an integer |k| < 2048, built from the definition (sign, biased exponent, mantissa). */
function float16OfSmallInteger(k: number): number {
  if (k === 0) return 0;
  const sign = k < 0 ? 0x8000 : 0;
  const m = Math.abs(k);
  const e = Math.floor(Math.log2(m));
  return sign | ((e + 15) << 10) | ((m / 2 ** e - 1) * 1024);
}
