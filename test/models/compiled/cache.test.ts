// The compiled-model cache on the tiny VidRD UNet3D: a first start builds and writes an entry, a second
// loads it without calling the builder and gives the same output (and the same input checks); a change
// of config options, dtype or weights is another key; a truncated or half-written entry is rebuilt.

import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { Graph } from "../../../src/graph/index.js";
import { writeSafetensors } from "../../../src/io/index.js";
import { canonicalJson } from "../../../src/io/canonical-json.js";
import { compiledModelKey, defaultCacheDir, loadCompiledModel, weightsFingerprint } from "../../../src/models/compiled/index.js";
import { buildUNet3D } from "../../../src/models/unet3d/index.js";
import { StateDict, type TensorEntry, stateDictFromTensors } from "../../../src/models/weights/index.js";
import { Session, SessionInputError } from "../../../src/runtime/index.js";
import { Tensor } from "../../../src/tensor/tensor.js";
import { CONFIG, FEEDS, WEIGHTS, builder, spec } from "./tiny-unet.js";

function withTempDir(): { dir: string; done: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "vidrd-cache-test-"));
  return { dir, done: () => rmSync(dir, { recursive: true, force: true }) };
}

test("first start builds and writes; second start hits without calling the builder and gives the same output", async () => {
  const { dir, done } = withTempDir();
  try {
    const weightsPath = join(dir, "unet.safetensors");
    writeSafetensors(weightsPath, WEIGHTS);
    const cacheDir = join(dir, "cache");
    const b = builder({ height: "H", width: "W" });
    const first = await loadCompiledModel(spec(), weightsPath, b.build, { cacheDir, session: { threads: 1 } });
    assert.equal(first.hit, false);
    assert.equal(b.calls.n, 1);
    assert.deepEqual(readdirSync(first.dir).sort(), ["manifest.json", "model.onnx"]);
    assert.deepEqual(readdirSync(cacheDir), [first.key], "no staging directory left behind");
    const want = (await first.session.run(FEEDS)).eps!;
    await first.session.release();

    const second = await loadCompiledModel(spec(), weightsPath, b.build, { cacheDir, session: { threads: 1 } });
    try {
      assert.equal(second.hit, true);
      assert.equal(b.calls.n, 1, "the builder is not called on a hit");
      assert.equal(second.key, first.key);
      assert.deepEqual([...(await second.session.run(FEEDS)).eps!.data], [...want.data]);
      // the graph's symbolic shapes and size conditions come back with the entry
      assert.deepEqual(second.session.inputs.find((i) => i.name === "sample")!.shape, ["B", 4, "F", "H", "W"]);
      const odd = { ...FEEDS, sample: Tensor.zeros("float32", [1, 4, 2, 8, 7]) };
      await assert.rejects(second.session.run(odd), (e: unknown) => e instanceof SessionInputError && /needs W divisible by 2/.test(e.message));
    } finally {
      await second.session.release();
    }
    // the same weights given as a StateDict or a Map load the same model (their own key: another fingerprint)
    const inMemory = await loadCompiledModel(spec(), stateDictFromTensors("mem", WEIGHTS), b.build, { cacheDir, session: { threads: 1 } });
    assert.deepEqual([...(await inMemory.session.run(FEEDS)).eps!.data], [...want.data]);
    await inMemory.session.release();
  } finally {
    done();
  }
});

test("a change of options, dtype or weights misses; the key ignores key order", async () => {
  const { dir, done } = withTempDir();
  try {
    const weightsPath = join(dir, "unet.safetensors");
    writeSafetensors(weightsPath, WEIGHTS);
    const fp = weightsFingerprint(weightsPath);
    const base = compiledModelKey(spec(), fp);
    assert.equal(compiledModelKey({ dtype: "float32", options: { width: "W", height: "H" }, config: CONFIG, kind: "unet3d" }, fp), base);
    assert.notEqual(compiledModelKey(spec({ height: "H", width: "H" }), fp), base);
    assert.notEqual(compiledModelKey(spec(undefined, "float16"), fp), base);
    assert.notEqual(compiledModelKey({ ...spec(), config: { ...CONFIG, normEps: 1e-6 } }, fp), base);

    // one weight changed: in the sampled blocks of a small tensor, and in the middle of a large one
    for (const key of ["conv_in.bias", "down_blocks.1.resnets.0.conv1.weight"]) {
      const t = WEIGHTS.get(key)!;
      const data = Float32Array.from(t.data as Float32Array);
      data[Math.floor(data.length / 2)]! += 0.5;
      const changed = new Map(WEIGHTS).set(key, new Tensor("float32", data, t.shape));
      const otherPath = join(dir, "changed.safetensors");
      writeSafetensors(otherPath, changed);
      assert.equal(statSync(otherPath).size, statSync(weightsPath).size);
      assert.notEqual(weightsFingerprint(otherPath), fp, `${key}: sampled fingerprint`);
      assert.notEqual(weightsFingerprint(otherPath, "full"), weightsFingerprint(weightsPath, "full"), `${key}: full fingerprint`);
      assert.notEqual(weightsFingerprint(changed), weightsFingerprint(WEIGHTS), `${key}: in-memory fingerprint`);
    }
    assert.equal(weightsFingerprint(stateDictFromTensors("a", WEIGHTS)), weightsFingerprint(WEIGHTS));

    // through loadCompiledModel: a miss builds again
    const cacheDir = join(dir, "cache");
    const b = builder({ height: "H", width: "W" });
    for (const s of [spec(), spec({ height: "H", width: "W" }, "float16")]) {
      const r = await loadCompiledModel(s, weightsPath, (g) => {
        b.calls.n++;
        buildUNet3D(g, CONFIG, { height: "H", width: "W", dtype: s.dtype });
      }, { cacheDir, session: { threads: 1 } });
      assert.equal(r.hit, false);
      await r.session.release();
    }
    assert.equal(b.calls.n, 2);
  } finally {
    done();
  }
});

test("a truncated model, a missing manifest or a manifest for another key is rebuilt", async () => {
  const { dir, done } = withTempDir();
  try {
    const cacheDir = join(dir, "cache");
    const b = builder({ height: "H", width: "W" });
    const load = () => loadCompiledModel(spec(), WEIGHTS, b.build, { cacheDir, session: { threads: 1 } });
    const first = await load();
    const want = [...(await first.session.run(FEEDS)).eps!.data];
    await first.session.release();
    const damages: [string, () => void][] = [
      ["truncated model.onnx", () => truncateSync(join(first.dir, "model.onnx"), 1000)],
      ["no manifest (a build that died before its last write)", () => rmSync(join(first.dir, "manifest.json"))],
      ["manifest of another key", () => {
        const p = join(first.dir, "manifest.json");
        writeFileSync(p, readFileSync(p, "utf8").replace(first.key, "0".repeat(64)));
      }],
      ["unreadable manifest", () => writeFileSync(join(first.dir, "manifest.json"), "{")],
    ];
    let builds = b.calls.n;
    for (const [what, damage] of damages) {
      damage();
      const again = await load();
      try {
        assert.equal(again.hit, false, what);
        assert.equal(b.calls.n, ++builds, `${what}: built again`);
        assert.deepEqual([...(await again.session.run(FEEDS)).eps!.data], want, what);
      } finally {
        await again.session.release();
      }
      const after = await load();
      assert.equal(after.hit, true, `${what}: the rebuilt entry is complete`);
      await after.session.release();
    }
  } finally {
    done();
  }
});

test("cache dir: the option, else VIDRD_CACHE_DIR, else ~/.cache/vidrd; specs must be plain data", () => {
  const saved = process.env.VIDRD_CACHE_DIR;
  try {
    process.env.VIDRD_CACHE_DIR = "/tmp/vidrd-cache-env";
    assert.equal(defaultCacheDir(), "/tmp/vidrd-cache-env");
    delete process.env.VIDRD_CACHE_DIR;
    assert.match(defaultCacheDir(), /\.cache\/vidrd$/);
  } finally {
    if (saved === undefined) delete process.env.VIDRD_CACHE_DIR;
    else process.env.VIDRD_CACHE_DIR = saved;
  }
  assert.equal(canonicalJson({ b: [1, { d: 2, c: undefined }], a: "x" }), '{"a":"x","b":[1,{"d":2}]}');
  assert.throws(() => canonicalJson({ options: { trainable: () => true } }, "spec"), /spec\.options\.trainable is a function/);
  assert.throws(() => canonicalJson({ shapes: new Map() }, "spec"), /spec\.shapes is a Map/);
});

test("a cold build reads each weight once, lazily; with a weightsId a hit reads none, and another id misses", async () => {
  const { dir, done } = withTempDir();
  try {
    const reads = new Map<string, number>();
    const entries = new Map<string, TensorEntry>();
    for (const [name, t] of WEIGHTS) {
      const read = () => (reads.set(name, (reads.get(name) ?? 0) + 1), t.clone());
      entries.set(name, { dtype: t.dtype, storedDType: t.dtype, shape: t.shape, read });
    }
    const lazyWeights = new StateDict("counted", entries);
    const cacheDir = join(dir, "cache");
    const b = builder({ height: "H", width: "W" });
    // emitted past a tiny threshold, so the entry has external data written one weight at a time
    const opts = { cacheDir, session: { threads: 1 }, emit: { externalThreshold: 1000 }, weightsId: "hashed seed 3" };
    const first = await loadCompiledModel(spec(), lazyWeights, b.build, opts);
    assert.equal(first.hit, false);
    assert.deepEqual(readdirSync(first.dir).sort(), ["manifest.json", "model.onnx", "model.onnx.data"]);
    assert.ok(reads.size > 100);
    assert.deepEqual([...reads].filter(([, n]) => n !== 1), [], "each weight read exactly once");
    assert.deepEqual([...(await first.session.run(FEEDS)).eps!.data], await referenceEps());
    await first.session.release();

    reads.clear();
    const second = await loadCompiledModel(spec(), lazyWeights, b.build, opts);
    assert.equal(second.hit, true);
    assert.equal(reads.size, 0, "a hit by weightsId reads no weight, not even to fingerprint it");
    await second.session.release();
    const other = await loadCompiledModel(spec(), lazyWeights, b.build, { ...opts, weightsId: "hashed seed 4" });
    assert.equal(other.hit, false);
    assert.notEqual(other.key, first.key);
    await other.session.release();
    await assert.rejects(loadCompiledModel(spec(), lazyWeights, b.build, { ...opts, weightsId: "" }), /weightsId must be a non-empty string, got ""/);
  } finally {
    done();
  }
});

/** The tiny UNet's output on FEEDS, from weights in memory (no cache). */
async function referenceEps(): Promise<number[]> {
  const g = new Graph("reference");
  buildUNet3D(g, CONFIG, { height: "H", width: "W" });
  const s = await Session.fromGraph(g, { weights: WEIGHTS, threads: 1 });
  try {
    return Array.from((await s.run(FEEDS)).eps!.data as Float32Array);
  } finally {
    await s.release();
  }
}
