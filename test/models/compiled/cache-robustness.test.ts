// The compiled-model cache under concurrent starts, damaged entries, killed builds and unusable cache
// folders: concurrent first starts all load (an entry another process installed is used, never deleted);
// an entry whose files have the right sizes but fail to load is rebuilt once; staging folders of dead
// processes are swept; a cache folder that cannot be one is a CompiledCacheError naming it and its source.

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Graph } from "../../../src/graph/index.js";
import { CompiledCacheError, loadCompiledModel, type CompiledCacheOptions } from "../../../src/models/compiled/index.js";
import type { Session } from "../../../src/runtime/index.js";
import { FEEDS, WEIGHTS, builder, spec } from "./tiny-unet.js";

function withTempDir(): { dir: string; done: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "vidrd-cache-test-"));
  return { dir, done: () => rmSync(dir, { recursive: true, force: true }) };
}

const options = (cacheDir: string): CompiledCacheOptions => ({ cacheDir, weightsId: "hashed seed 3", session: { threads: 1 } });
const HW = { height: "H", width: "W" };

async function epsOf(session: Session): Promise<number[]> {
  try {
    return Array.from((await session.run(FEEDS)).eps!.data as Float32Array);
  } finally {
    await session.release();
  }
}

/** A model ONNX Runtime refuses to load (an op it does not know), emitted without complaint. */
function unloadableBuild(g: Graph): void {
  const x = g.input("x", "float32", [2]);
  const [y] = g.addNode("NoSuchVidrdOp", [x], {}, [{ dtype: "float32", shape: [2] }]);
  g.output("y", y!);
}

test("an entry another process completes during the build is used, not replaced; an invalid one is replaced", async () => {
  const { dir, done } = withTempDir();
  try {
    const cacheDir = join(dir, "cache");
    const first = await loadCompiledModel(spec(), WEIGHTS, builder(HW).build, options(cacheDir));
    const want = await epsOf(first.session);
    const saved = join(dir, "saved");
    renameSync(first.dir, saved);

    // Another process finishes the same entry while this one builds, and may be loading from it.
    const b = builder(HW);
    const marker = join(first.dir, "loaded-by-another-process");
    const raced = await loadCompiledModel(spec(), WEIGHTS, (g) => {
      cpSync(saved, first.dir, { recursive: true });
      writeFileSync(marker, "");
      b.build(g);
    }, options(cacheDir));
    assert.equal(raced.hit, false);
    assert.equal(b.calls.n, 1);
    assert.equal(raced.dir, first.dir);
    assert.ok(existsSync(marker), "the entry another process installed is left in place");
    assert.deepEqual(await epsOf(raced.session), want);
    assert.deepEqual(readdirSync(cacheDir), [first.key], "the staging folder is dropped");

    // A half-written entry (no manifest) appears instead: it is moved aside and replaced.
    rmSync(first.dir, { recursive: true });
    const replaced = await loadCompiledModel(spec(), WEIGHTS, (g) => {
      mkdirSync(first.dir);
      writeFileSync(join(first.dir, "model.onnx"), "not a model");
      writeFileSync(join(first.dir, "junk"), "");
      b.build(g);
    }, options(cacheDir));
    assert.equal(replaced.hit, false);
    assert.deepEqual(await epsOf(replaced.session), want);
    assert.deepEqual(readdirSync(cacheDir), [first.key], "no staging or discarded folder left behind");
    assert.deepEqual(readdirSync(first.dir).sort(), ["manifest.json", "model.onnx"]);
    const after = await loadCompiledModel(spec(), WEIGHTS, b.build, options(cacheDir));
    assert.equal(after.hit, true);
    await after.session.release();
  } finally {
    done();
  }
});

test("concurrent first starts on an empty cache (child processes) all load the same model", async () => {
  const { dir, done } = withTempDir();
  try {
    const cacheDir = join(dir, "cache");
    const script = fileURLToPath(new URL("./concurrent-load.ts", import.meta.url));
    const n = 4;
    const children = Array.from({ length: n }, () => {
      const child = spawn(process.execPath, ["--import", "tsx", script, cacheDir], { stdio: ["pipe", "pipe", "pipe"] });
      const out = { stdout: "", stderr: "" };
      child.stdout.on("data", (d) => (out.stdout += d));
      child.stderr.on("data", (d) => (out.stderr += d));
      const ready = new Promise<void>((resolve, reject) => {
        child.stdout.on("data", () => out.stdout.includes("ready\n") && resolve());
        child.once("exit", (code) => reject(new Error(`child exited (${code}) before it was ready: ${out.stderr}`)));
      });
      const exited = once(child, "exit") as Promise<[number | null]>;
      return { child, out, ready, exited };
    });
    await Promise.all(children.map((c) => c.ready));
    for (const c of children) c.child.stdin.end("go\n");
    const results = await Promise.all(children.map(async (c) => {
      const [code] = await c.exited;
      assert.equal(code, 0, `a child failed: ${c.out.stderr}`);
      return JSON.parse(c.out.stdout.split("\n").find((l) => l.startsWith("{"))!) as { hit: boolean; key: string; eps: number[] };
    }));
    assert.equal(new Set(results.map((r) => r.key)).size, 1);
    for (const r of results.slice(1)) assert.deepEqual(r.eps, results[0]!.eps);
    assert.deepEqual(readdirSync(cacheDir), [results[0]!.key], "one entry, no staging or discarded folder left behind");
  } finally {
    done();
  }
});

test("an entry of the right size that fails to load is rebuilt once; a second failure names the cache folder", async () => {
  const { dir, done } = withTempDir();
  try {
    const cacheDir = join(dir, "cache");
    const first = await loadCompiledModel(spec(), WEIGHTS, builder(HW).build, options(cacheDir));
    const want = await epsOf(first.session);
    const model = join(first.dir, "model.onnx");
    const zeroFill = () => writeFileSync(model, Buffer.alloc(statSync(model).size));

    zeroFill();
    const b = builder(HW);
    const rebuilt = await loadCompiledModel(spec(), WEIGHTS, b.build, options(cacheDir));
    assert.equal(rebuilt.hit, false);
    assert.equal(b.calls.n, 1, "built again, once");
    assert.deepEqual(await epsOf(rebuilt.session), want);
    assert.deepEqual(readdirSync(cacheDir), [first.key]);
    const after = await loadCompiledModel(spec(), WEIGHTS, b.build, options(cacheDir));
    assert.equal(after.hit, true, "the rebuilt entry is a hit");
    await after.session.release();

    // A session option the runtime refuses is no damage: nothing is rebuilt.
    await assert.rejects(loadCompiledModel(spec(), WEIGHTS, b.build, { ...options(cacheDir), session: { threads: 0 } }), RangeError);
    assert.equal(b.calls.n, 1);

    // Damaged again, and the rebuilt model fails to load too: reported once, naming the folder and its source.
    zeroFill();
    let builds = 0;
    await assert.rejects(
      loadCompiledModel(spec(), WEIGHTS, (g) => (builds++, unloadableBuild(g)), options(cacheDir)),
      (e: unknown) => {
        assert.ok(e instanceof CompiledCacheError, String(e));
        assert.ok(e.message.includes(first.dir), e.message);
        assert.ok(e.message.includes(`cache folder ${cacheDir}`), e.message);
        assert.match(e.message, /VIDRD_CACHE_DIR/);
        assert.match(e.message, /NoSuchVidrdOp/, "the runtime's reason is kept");
        return true;
      },
    );
    assert.equal(builds, 1, "rebuilt once, not again after the second failure");
  } finally {
    done();
  }
});

test("staging folders of dead processes are swept at load; those of live processes are kept", async () => {
  const { dir, done } = withTempDir();
  const sleeper = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60000)"], { stdio: "ignore" });
  try {
    const cacheDir = join(dir, "cache");
    const first = await loadCompiledModel(spec(), WEIGHTS, builder(HW).build, options(cacheDir));
    await first.session.release();
    const deadPid = spawnSync(process.execPath, ["-e", ""]).pid;
    const staging = (prefix: string, pid: number) => {
      const name = `.staging-${prefix}-${pid}-${randomUUID()}`;
      mkdirSync(join(cacheDir, name));
      writeFileSync(join(cacheDir, name, "model.onnx.data"), "weights");
      return name;
    };
    const deadOwn = staging(first.key.slice(0, 16), deadPid);
    const deadOther = staging("0123456789abcdef", deadPid);
    const live = staging("0123456789abcdef", sleeper.pid!);
    const self = staging(first.key.slice(0, 16), process.pid);
    const unrelated = ".staging-not-ours";
    mkdirSync(join(cacheDir, unrelated));

    const hit = await loadCompiledModel(spec(), WEIGHTS, builder(HW).build, options(cacheDir));
    assert.equal(hit.hit, true);
    await hit.session.release();
    const left = readdirSync(cacheDir);
    assert.ok(!left.includes(deadOwn) && !left.includes(deadOther), `dead processes' staging swept: ${left}`);
    assert.deepEqual(left.sort(), [first.key, live, self, unrelated].sort(), "live processes' staging kept");

    sleeper.kill();
    await once(sleeper, "exit");
    const again = await loadCompiledModel(spec(), WEIGHTS, builder(HW).build, options(cacheDir));
    await again.session.release();
    assert.deepEqual(readdirSync(cacheDir).sort(), [first.key, self, unrelated].sort(), "swept once its process is gone");
  } finally {
    sleeper.kill();
    done();
  }
});

test("a cache folder that is a file, under a file or not writable is a CompiledCacheError naming it and its source", async () => {
  const { dir, done } = withTempDir();
  const saved = process.env.VIDRD_CACHE_DIR;
  try {
    const file = join(dir, "a-file");
    writeFileSync(file, "");
    const refused = async (cacheDir: string | undefined, source: RegExp, what: RegExp) => {
      let builds = 0;
      const opts = { ...options(cacheDir ?? ""), cacheDir };
      await assert.rejects(loadCompiledModel(spec(), WEIGHTS, (g) => (builds++, builder(HW).build(g)), opts), (e: unknown) => {
        assert.ok(e instanceof CompiledCacheError, String(e));
        assert.ok(e.message.includes(cacheDir ?? process.env.VIDRD_CACHE_DIR!), e.message);
        assert.match(e.message, source);
        assert.match(e.message, what);
        assert.match(e.message, /writable folder/);
        return true;
      });
      assert.equal(builds, 0, "refused before building");
    };
    await refused(file, /cacheDir option/, /is a file/);
    await refused(join(file, "cache"), /cacheDir option/, new RegExp(`${file} is a file`));
    process.env.VIDRD_CACHE_DIR = file;
    await refused(undefined, /VIDRD_CACHE_DIR/, /is a file/);
    process.env.VIDRD_CACHE_DIR = join(file, "sub", "cache");
    await refused(undefined, /VIDRD_CACHE_DIR/, new RegExp(`${file} is a file`));
    if (process.getuid?.() !== 0) {
      const readOnly = join(dir, "read-only");
      mkdirSync(readOnly);
      chmodSync(readOnly, 0o555);
      await refused(readOnly, /cacheDir option/, /not writable/);
      chmodSync(readOnly, 0o755);
    }
  } finally {
    if (saved === undefined) delete process.env.VIDRD_CACHE_DIR;
    else process.env.VIDRD_CACHE_DIR = saved;
    done();
  }
});
