// VideoModel holds open weights files: a folder that fails to open must not leak the parts opened before
// the failure, release() must free everything even when a network failed to compile, and checkWeights
// names a misfit tensor in one line before anything is compiled.

import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { ModelFolderError, VideoModel } from "../../src/app/video-model.js";
import { Tensor } from "../../src/tensor/tensor.js";
import { writeTinyModel } from "./tiny-model.js";

let root: string;
before(() => {
  root = mkdtempSync(join(tmpdir(), "vidrd-model-res-"));
});
after(() => rmSync(root, { recursive: true, force: true }));

const openFds = (): number => readdirSync("/proc/self/fd").length;

/** Open file descriptors pointing into `dir` (the runtime keeps fds of its own, e.g. eventfds, once started). */
function fdsUnder(dir: string): string[] {
  const found: string[] = [];
  for (const fd of readdirSync("/proc/self/fd")) {
    try {
      const target = readlinkSync(join("/proc/self/fd", fd));
      if (target.startsWith(dir)) found.push(target);
    } catch {
      // closed meanwhile (the readdir's own fd)
    }
  }
  return found;
}
const linux = process.platform === "linux" ? false : "counts /proc/self/fd";

/** Renames tensors in a safetensors header (the data stays as it is, so the file stays valid). */
function renameTensors(file: string, pick: (name: string) => boolean): void {
  const buf = readFileSync(file);
  const length = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + length).toString("utf8")) as Record<string, unknown>;
  for (const k of Object.keys(header).filter((k) => k !== "__metadata__" && pick(k))) {
    header[`renamed.${k}`] = header[k];
    delete header[k];
  }
  let text = JSON.stringify(header);
  while (Buffer.byteLength(text) < length) text += " ";
  const size = Buffer.alloc(8);
  size.writeBigUInt64LE(BigInt(Buffer.byteLength(text)));
  writeFileSync(file, Buffer.concat([size, Buffer.from(text), buf.subarray(8 + length)]));
}

test("a folder whose vae part is corrupt: opening it again and again leaks no file descriptors", { skip: linux }, () => {
  const good = join(root, "good");
  writeTinyModel(good);
  // the leak would show: an opened model holds its weights files open
  const before0 = openFds();
  const model = VideoModel.open(good);
  assert.ok(openFds() > before0, "an open model holds no fds: this test could not see a leak");
  return model.release().then(() => {
    assert.equal(openFds(), before0);
    const corrupt = join(root, "corrupt-vae");
    writeTinyModel(corrupt);
    writeFileSync(join(corrupt, "vae", "model.safetensors"), "garbage, not weights");
    const start = openFds();
    for (let i = 0; i < 20; i++) {
      assert.throws(() => VideoModel.open(corrupt), (e: unknown) => e instanceof ModelFolderError && /: vae: /.test((e as Error).message));
    }
    assert.equal(openFds(), start);
  });
});

test("release() frees every session and closes all weights even when a network failed to compile", { skip: linux }, async () => {
  const dir = join(root, "misfit-unet");
  writeTinyModel(dir);
  renameTensors(join(dir, "unet", "model.safetensors"), (k) => k === "conv_in.weight");
  const model = VideoModel.open(dir, { cacheDir: join(root, "cache"), threads: 1 });
  assert.ok(fdsUnder(dir).length > 0, "an open model holds no fds: this test could not see a leak");
  const emb = await model.encodeText(["a red star", ""]); // the text encoder compiles and runs
  const z = new Tensor("float32", new Float32Array(2 * 4 * 4 * 4 * 4), [2, 4, 4, 4, 4]);
  await assert.rejects(model.denoiser(z, 500, { embeddings: emb }), /conv_in\.weight/); // the UNet does not
  await model.release(); // does not throw the compile's error, and closes the weights
  assert.deepEqual(fdsUnder(dir), []);
  await model.release(); // twice is harmless
});

test("checkWeights: a missing or misshapen tensor is one line naming the part, the count and the first tensors", () => {
  const dir = join(root, "misfit-vae");
  writeTinyModel(dir);
  const good = VideoModel.open(join(root, "good"));
  try {
    good.checkWeights({ decoders: ["clip", "per-frame"], encoder: true });
  } finally {
    void good.release();
  }
  renameTensors(join(dir, "vae", "model.safetensors"), (k) => k.startsWith("encoder."));
  const model = VideoModel.open(dir);
  try {
    model.checkWeights(); // generate decodes only: the encoder's weights are not needed
    assert.throws(
      () => model.checkWeights({ encoder: true }),
      (e: unknown) =>
        e instanceof ModelFolderError && !(e as Error).message.includes("\n") && /^model .*misfit-vae: vae: \d+ weight problems \(of \d+ tensors\): encoder\.\S+ is missing \(expected \[[\d, ]+\]\); encoder\.\S+ is missing .*; and \d+ more$/.test((e as Error).message),
    );
  } finally {
    void model.release();
  }
});
