import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, rmSync } from "node:fs";
import {
  PickleObject,
  PickleRefusedError,
  PthError,
  PthFile,
  TorchTensor,
  dictAttributes,
  isTuple,
  type PickleValue,
} from "../../../src/io/pth/index.js";
import { assertTensorEquals, expected, pthFixture } from "./fixtures.js";

const PWNED_MARKER = "/tmp/vidrd-pth-fixture-pwned";

function asMap(v: PickleValue | undefined): Map<unknown, PickleValue> {
  assert.ok(v instanceof Map, `expected a dict, got ${String(v)}`);
  return v as Map<unknown, PickleValue>;
}

/** Tensors of a nested dict, keyed by dotted path, as the fixture script's flat_tensors() names them. */
function flatTensors(v: PickleValue, prefix = "", out = new Map<string, TorchTensor>()): Map<string, TorchTensor> {
  if (v instanceof TorchTensor) out.set(prefix, v);
  else if (v instanceof Map) for (const [k, x] of v) flatTensors(x, prefix ? `${prefix}.${String(k)}` : String(k), out);
  return out;
}

for (const [file, format] of [["tensors.pth", "zip"], ["tensors_legacy.pth", "legacy"]] as const) {
  test(`${file}: every tensor torch saved reads back exactly (dtype, shape, value bits)`, () => {
    const pth = PthFile.open(pthFixture(file));
    try {
      assert.equal(pth.format, format);
      const tensors = flatTensors(pth.value);
      assert.deepEqual([...tensors.keys()].sort(), Object.keys(expected.tensors).sort());
      for (const [name, t] of tensors) {
        assert.equal(t.dtype, expected.tensors[name].dtype, `${name}: source dtype`);
        assertTensorEquals(t.read(), expected.tensors[name], name);
      }
    } finally {
      pth.close();
    }
  });

  test(`${file}: views share one storage, with offsets and strides as torch saved them`, () => {
    const pth = PthFile.open(pthFixture(file));
    try {
      const v = asMap(pth.value);
      const t = (name: string) => v.get(name) as TorchTensor;
      for (const name of ["shared_b", "transposed", "narrowed", "rows", "element"]) assert.equal(t(name).storage, t("shared_a").storage, name);
      assert.deepEqual([t("transposed").stride, t("transposed").isContiguous], [[1, 6], false]);
      assert.deepEqual([t("narrowed").storageOffset, t("narrowed").stride, t("narrowed").isContiguous], [2, [6, 1], false]);
      assert.deepEqual([t("rows").storageOffset, t("rows").isContiguous], [6, true]);
      assert.deepEqual([t("element").storageOffset, t("element").shape], [23, []]);
      assert.deepEqual(t("expanded").stride, [0, 1]);
      assert.equal(t("f64").tensorDType, "float32");
    } finally {
      pth.close();
    }
  });

  test(`${file}: plain values come back as plain JS values`, () => {
    const pth = PthFile.open(pthFixture(file));
    try {
      const nested = asMap(asMap(pth.value).get("nested"));
      const list = nested.get("list") as PickleValue[];
      assert.deepEqual(list.slice(0, 5), [1, 2.5, "text", null, true]);
      assert.ok(isTuple(list[5]) && isTuple(list[5][1]));
      assert.deepEqual(list[5], [1, [2, 3]]);
      assert.deepEqual(list[6], new Uint8Array([0, 255]));
      assert.equal(nested.get(7), "int key");
      assert.equal(nested.get("big"), 2n ** 70n);
      assert.ok(asMap(nested.get("inner")).get("deep") instanceof TorchTensor);
    } finally {
      pth.close();
    }
  });
}

test("a Lightning checkpoint: metadata, the state dict (an OrderedDict with _metadata), optimizer state", () => {
  const pth = PthFile.open(pthFixture("lightning.ckpt"));
  try {
    const top = asMap(pth.value);
    assert.equal(top.get("epoch"), 3);
    assert.equal(top.get("pytorch-lightning_version"), "1.9.5");
    const state = asMap(top.get("state_dict"));
    assert.deepEqual([...state.keys()].sort(), Object.keys(expected.lightning).sort());
    for (const [name, t] of state) assertTensorEquals((t as TorchTensor).read(), expected.lightning[name as string], name as string);
    assert.ok(asMap(dictAttributes.get(state as never)).has("_metadata"));
    const groups = asMap((top.get("optimizer_states") as PickleValue[])[0]).get("param_groups") as PickleValue[];
    assert.deepEqual(asMap(groups[0]).get("betas"), [0.9, 0.999]);
  } finally {
    pth.close();
  }
});

test("deflated and zip64 re-packs of a checkpoint read the same as torch's own archive", () => {
  for (const file of ["small.pth", "small_deflated.pth", "small_zip64.pth"]) {
    const pth = PthFile.open(pthFixture(file));
    try {
      const v = asMap(pth.value);
      for (const name of ["w", "b"]) assertTensorEquals((v.get(name) as TorchTensor).read(), expected.small[name], `${file} ${name}`);
    } finally {
      pth.close();
    }
  }
});

test("a pickle naming os.system is refused, in both modes, and nothing runs", () => {
  rmSync(PWNED_MARKER, { force: true });
  for (const unknownGlobals of ["refuse", "stub"] as const) {
    assert.throws(
      () => PthFile.open(pthFixture("malicious.pth"), { unknownGlobals }),
      (e: unknown) =>
        e instanceof PickleRefusedError &&
        e.refused === "posix.system" &&
        /malicious\.pth .*refusing to load: the file uses the Python global posix\.system/.test(e.message) &&
        /nothing was executed/.test(e.message),
    );
  }
  assert.equal(existsSync(PWNED_MARKER), false);
});

test("an unknown opcode is refused, naming its byte", () => {
  assert.throws(
    () => PthFile.open(pthFixture("unknown_opcode.pth")),
    (e: unknown) => e instanceof PickleRefusedError && e.refused === "0xd0" && /unknown pickle opcode 0xd0/.test(e.message),
  );
});

test("a class outside the allow-list: refused by default with a hint; an inert record with stubs", () => {
  assert.throws(
    () => PthFile.open(pthFixture("lightning_hparams.ckpt")),
    (e: unknown) => e instanceof PickleRefusedError && e.refused === "__main__.TrainConfig" && /unknownGlobals "stub"/.test(e.message),
  );
  const pth = PthFile.open(pthFixture("lightning_hparams.ckpt"), { unknownGlobals: "stub" });
  try {
    const config = asMap(asMap(pth.value).get("hyper_parameters")).get("config");
    assert.ok(config instanceof PickleObject);
    assert.equal(config.type.qualifiedName, "__main__.TrainConfig");
    assert.deepEqual(config.state, new Map<string, PickleValue>([["lr", 1e-4], ["frames", 8]]));
    assert.equal(asMap(asMap(pth.value).get("state_dict")).size, 7);
  } finally {
    pth.close();
  }
});

test("corrupt files fail with a PthError naming the file and the problem", () => {
  const bytes = readFileSync(pthFixture("small.pth"));
  const check = (b: Uint8Array, pattern: RegExp) =>
    assert.throws(() => PthFile.fromBytes(b, "bad.pth"), (e: unknown) => e instanceof PthError && /^bad\.pth/.test(e.message) && pattern.test(e.message));
  check(bytes.subarray(0, bytes.length - 30), /end-of-central-directory/);
  check(bytes.subarray(0, 200), /end-of-central-directory|truncated/);
  check(new TextEncoder().encode("just some text, long enough to sniff"), /not a torch\.save file/);
  check(new Uint8Array(0), /not a torch\.save file/);
  const flipped = Uint8Array.from(bytes);
  flipped[bytes.indexOf(Buffer.from("data.pkl")) + 8 + 40] ^= 0xff; // inside the pickle's data
  check(flipped, /CRC-32/);
  const legacy = readFileSync(pthFixture("tensors_legacy.pth"));
  check(legacy.subarray(0, legacy.length - 10), /truncated|past the end/);
  check(legacy.subarray(0, 300), /truncated/);
});

test("storages stay on disk until read; reading after close fails clearly", () => {
  const pth = PthFile.open(pthFixture("small.pth"));
  const w = asMap(pth.value).get("w") as TorchTensor;
  pth.close();
  assert.throws(() => w.read(), /closed/);
});
