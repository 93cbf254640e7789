import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Tensor } from "../../src/tensor/tensor.js";
import {
  SafetensorsError,
  SafetensorsFile,
  encodeSafetensors,
  readSafetensors,
} from "../../src/io/index.js";

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/io/${name}`, import.meta.url));
const PYTHON_FILE = fixture("python.safetensors");

interface ExpectedTensor {
  dtype: string;
  shape: number[];
  bits?: number[];
  values?: (number | string)[];
}
const expected = JSON.parse(readFileSync(fixture("python-expected.json"), "utf8")) as {
  metadata: Record<string, string>;
  tensors: Record<string, ExpectedTensor>;
};

function float32Bits(data: Float32Array): number[] {
  return [...new Uint32Array(data.buffer, data.byteOffset, data.length)];
}

test("reads the PyTorch-written fixture: values known independently of both writers", () => {
  const t = readSafetensors(PYTHON_FILE);
  // torch.arange(12).reshape(3, 4) * 0.25 - 1
  assert.deepEqual(t.get("f32.arange")!.shape, [3, 4]);
  assert.deepEqual([...t.get("f32.arange")!.data], Array.from({ length: 12 }, (_, i) => i * 0.25 - 1));
  assert.deepEqual([...t.get("f32.special")!.data], [Math.fround(0.1), -2.5, Math.fround(1e-30), Infinity, -0, Math.fround(3.4e38)]);
  assert.ok(Object.is(t.get("f32.special")!.data[4], -0));
  assert.deepEqual(t.get("f32.scalar")!.shape, []);
  assert.deepEqual([...t.get("f32.scalar")!.data], [7.5]);
  assert.deepEqual(t.get("f32.empty")!.shape, [0, 3]);
  assert.equal(t.get("f32.empty")!.size, 0);
  // IEEE half bit patterns of -2, -1.5, ..., 1.5
  assert.equal(t.get("f16.half")!.dtype, "float16");
  assert.deepEqual([...t.get("f16.half")!.data], [0xc000, 0xbe00, 0xbc00, 0xb800, 0x0000, 0x3800, 0x3c00, 0x3e00]);
  // BF16 widens to float32; bf16(1/3) = 0x3EAB = 0.333984375, bf16(pi) = 0x4049 = 3.140625
  assert.equal(t.get("bf16.arange")!.dtype, "float32");
  assert.deepEqual(t.get("bf16.arange")!.shape, [3, 2]);
  assert.deepEqual([...t.get("bf16.arange")!.data], [-1, -0.5, 0, 0.5, 1, 1.5]);
  assert.equal(t.get("bf16.rounded")!.data[0], 0.333984375);
  assert.equal(t.get("bf16.rounded")!.data[1], 3.140625);
  assert.deepEqual([...t.get("i64.ids")!.data], [0n, -1n, 2n ** 40n, -(2n ** 62n), 2n ** 63n - 1n]);
  assert.equal(t.get("i32.counts")!.dtype, "int32");
  assert.deepEqual([...t.get("i32.counts")!.data], [-3, -2, -1, 0, 1, 2]);
  assert.deepEqual([...t.get("u8.pixels")!.data], [0, 51, 102, 153, 204, 255]);
  assert.equal(t.get("bool.mask")!.dtype, "bool");
  assert.deepEqual([...t.get("bool.mask")!.data], [1, 0, 1, 1]);
  assert.deepEqual([...t.get("weight.\u00e9")!.data], [1.5]);
});

test("reads every fixture tensor bit for bit as PyTorch stored it", () => {
  const file = SafetensorsFile.open(PYTHON_FILE);
  try {
    assert.deepEqual(new Set(file.names()), new Set(Object.keys(expected.tensors)));
    for (const [name, want] of Object.entries(expected.tensors)) {
      const info = file.info(name);
      assert.equal(info.dtype, want.dtype, name);
      assert.deepEqual(info.shape, want.shape, name);
      const tensor = file.read(name);
      assert.deepEqual(tensor.shape, want.shape, name);
      if (want.dtype === "F16") assert.deepEqual([...tensor.data], want.bits, name);
      else if (want.bits) assert.deepEqual(float32Bits(tensor.data as Float32Array), want.bits, name);
      else if (want.dtype === "I64") assert.deepEqual([...tensor.data], want.values!.map((v) => BigInt(v)), name);
      else assert.deepEqual([...tensor.data], want.values, name);
    }
  } finally {
    file.close();
  }
});

test("metadata, names in data order and info of the fixture", () => {
  const file = SafetensorsFile.open(PYTHON_FILE);
  try {
    assert.deepEqual({ ...file.metadata }, expected.metadata);
    // The reference layout: alignment descending (I64, F32, I32, BF16, F16, U8, BOOL), then name.
    assert.deepEqual(file.names(), [
      "i64.ids", "f32.arange", "f32.empty", "f32.scalar", "f32.special", "weight.\u00e9", "i32.counts",
      "bf16.arange", "bf16.rounded", "f16.half", "f16.rounded", "u8.pixels", "bool.mask",
    ]);
    assert.deepEqual(file.info("f32.arange"), {
      dtype: "F32", shape: [3, 4], dataOffsets: [40, 88], byteLength: 48, tensorDType: "float32",
    });
    assert.equal(file.info("bf16.arange").tensorDType, "float32");
    assert.deepEqual([...file.readRaw("bf16.arange")], [0x80, 0xbf, 0x00, 0xbf, 0, 0, 0x00, 0x3f, 0x80, 0x3f, 0xc0, 0x3f]);
    assert.throws(() => file.read("missing"), (e: unknown) => e instanceof SafetensorsError && /no tensor named "missing"/.test(e.message));
  } finally {
    file.close();
  }
  assert.throws(() => file.read("f32.arange"), (e: unknown) => e instanceof SafetensorsError && /closed/.test(e.message));
});

test("encodes the fixture's tensors to exactly the bytes the reference layout gives", () => {
  const tensors = new Map<string, Tensor>();
  for (const [name, want] of Object.entries(expected.tensors)) {
    const n = want.shape.reduce((a, b) => a * b, 1);
    if (want.dtype === "F32" || want.dtype === "BF16") {
      tensors.set(name, new Tensor("float32", new Float32Array(Uint32Array.from(want.bits!).buffer, 0, n), want.shape));
    } else if (want.dtype === "F16") tensors.set(name, new Tensor("float16", Uint16Array.from(want.bits!), want.shape));
    else if (want.dtype === "I64") tensors.set(name, new Tensor("int64", BigInt64Array.from(want.values!.map((v) => BigInt(v))), want.shape));
    else if (want.dtype === "I32") tensors.set(name, new Tensor("int32", Int32Array.from(want.values as number[]), want.shape));
    else tensors.set(name, new Tensor(want.dtype === "U8" ? "uint8" : "bool", Uint8Array.from(want.values as number[]), want.shape));
  }
  // Insertion order scrambled on purpose: the layout must not depend on it.
  const scrambled = new Map([...tensors].reverse());
  const metadata = { source: "vidrd fixture", note: "caf\u00e9", format: "pt" };
  const bytes = encodeSafetensors(scrambled, metadata, {
    float32As: (name) => (expected.tensors[name].dtype === "BF16" ? "BF16" : "F32"),
  });
  assert.deepEqual(Buffer.from(bytes), readFileSync(PYTHON_FILE));
});

test("encodes exactly as the reference implementation's own unit tests", () => {
  // safetensors/src/tensor.rs, test_serialization_forced_alignement and test_empty.
  const attn0 = new Tensor("float32", Float32Array.from([0, 1, 2, 3, 4, 5]), [1, 1, 2, 3]);
  const header = '{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}       ';
  assert.equal(header.length, 72);
  const want = Buffer.concat([Buffer.from([72, 0, 0, 0, 0, 0, 0, 0]), Buffer.from(header), Buffer.from(Float32Array.from([0, 1, 2, 3, 4, 5]).buffer)]);
  assert.deepEqual(Buffer.from(encodeSafetensors({ attn0 })), want);
  assert.deepEqual([...encodeSafetensors({})], [8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32]);
  assert.deepEqual(
    Buffer.from(encodeSafetensors({}, { framework: "pt" })),
    Buffer.concat([Buffer.from([40, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('{"__metadata__":{"framework":"pt"}}     ')]),
  );
});

test("integer-like tensor names keep the name order, not JS object key order", () => {
  const one = (v: number) => Tensor.float32([v]);
  const file = SafetensorsFile.fromBytes(encodeSafetensors({ b: one(1), "10": one(2), "2": one(3), a: one(4) }));
  assert.deepEqual(file.names(), ["10", "2", "a", "b"]);
  assert.deepEqual([...file.read("2").data], [3]);
});

test("a tensor named __proto__ and a metadata key __proto__ are ordinary names", () => {
  const tensors = new Map([["__proto__", Tensor.int32([7])]]);
  const metadata = JSON.parse('{"__proto__":"x"}') as Record<string, string>;
  const file = SafetensorsFile.fromBytes(encodeSafetensors(tensors, metadata));
  assert.deepEqual([...file.read("__proto__").data], [7]);
  assert.equal(Object.getOwnPropertyDescriptor(file.metadata, "__proto__")?.value, "x");
});

test("F64 and other dtypes a Tensor cannot hold: the file opens, readRaw works, read explains", () => {
  const json = '{"d":{"dtype":"F64","shape":[1],"data_offsets":[0,8]},"u":{"dtype":"U8","shape":[2],"data_offsets":[8,10]}}';
  const head = Buffer.from(json.padEnd(Math.ceil(json.length / 8) * 8));
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(head.length));
  const bytes = Buffer.concat([prefix, head, Buffer.from(Float64Array.from([0.5]).buffer), Buffer.from([9, 8])]);
  const file = SafetensorsFile.fromBytes(bytes, "mixed.safetensors");
  assert.deepEqual([...file.read("u").data], [9, 8]);
  assert.deepEqual(new Float64Array(file.readRaw("d").buffer)[0], 0.5);
  assert.equal(file.info("d").tensorDType, null);
  assert.throws(
    () => file.read("d"),
    (e: unknown) => e instanceof SafetensorsError && /mixed\.safetensors: tensor "d" has dtype F64/.test(e.message) && /BF16/.test(e.message),
  );
});

test("writer rejects what it cannot store, naming the tensor", () => {
  const err = (re: RegExp) => (e: unknown) => e instanceof SafetensorsError && re.test(e.message);
  assert.throws(() => encodeSafetensors({ __metadata__: Tensor.float32([1]) }), err(/__metadata__ is reserved/));
  assert.throws(() => encodeSafetensors({ w: [1, 2] as unknown as Tensor }), err(/tensor "w" is not a Tensor/));
  assert.throws(() => encodeSafetensors({}, { n: 3 as unknown as string }), err(/metadata value of "n" must be a string/));
  assert.throws(() => encodeSafetensors({ w: Tensor.float32([1]) }, {}, { float32As: "F8" as "F16" }), err(/float32As .* "F8"; allowed: F32, F16, BF16/));
});
