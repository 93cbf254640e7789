// Compiled-model cache: a model graph emitted to ONNX once, kept as <cacheDir>/<key>/model.onnx (+ its
// external data), and loaded from there by later starts without building the graph or reading weights.
//
// key = sha256(cache format, vidrd version, canonical JSON of { kind, config, options, dtype }, weights
// fingerprint). The version is in the key because a new vidrd may build the same config differently.
//
// Weights fingerprint (`fingerprint: "sampled"`, the default): the safetensors header bytes (every name,
// dtype, shape and byte range), the file size, and for every tensor its first, middle and last 4 KiB.
// Sampling every tensor, rather than the file at random, is what makes it enough here: a fine-tune moves
// every element of each tensor it trains (VidRD trains only the temporal layers and attentions, a few
// hundred of 1,150 tensors, so a file-wide sample could miss them), and a different checkpoint of the same
// architecture differs everywhere. It is not enough for an edit of a few elements in place, away from the
// sampled blocks (a hand-patched weight, a bit flip): use `fingerprint: "full"`, which hashes all data
// (node:crypto's sha256 ran at 1.35 GB/s here, so 3.5 s for the 4.7 GB UNet plus reading it, against
// milliseconds sampled). Weights given in memory (a Map or StateDict) are read to be fingerprinted, unless
// the caller names them (`weightsId`).
//
// A cold build streams (graph/onnx/initializers.ts): each weight is read (from a file: by offset), written
// to the entry's external data and dropped before the next; JS holds one weight at most, and the
// runtime's copy, loaded from the entry's files as on a hit, is the only full one.
//
// Entries are written into a temporary directory beside the cache and renamed into place, with a
// manifest (file sizes, the graph's signature) written last; an entry whose manifest is missing,
// unreadable, for another key, or whose files have other sizes is removed and rebuilt.
//
// Several processes may start on the same key at once (there is no lock: each builds). A complete entry,
// once in place, is never deleted by another build: a build that finds one there when it is done drops
// its own staging folder and loads that entry (the rename of a staging folder onto a complete entry fails,
// and then that entry is used). An incomplete one is first renamed aside to a unique name, so no process
// ever sees a half-deleted entry under the key. An entry that looks complete but fails to load (files of
// the right sizes with damaged contents) is moved aside and rebuilt, once. Staging and discarded folders
// are named `.staging-<key prefix>-<pid>-<uuid>` / `.discard-…`; those of processes no longer running
// (a kill during a build) are swept at every load. The pid test assumes one machine per cache folder.

import { createHash } from "node:crypto";
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readFileSync, readSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Graph } from "../../graph/graph.js";
import { type EmitOptions, type LazyWeight, type LazyWeightSource, planOnnx, writePlan } from "../../graph/onnx/emit.js";
import { SafetensorsFile } from "../../io/index.js";
import { canonicalJson } from "../../io/canonical-json.js";
import { type GraphSignature, RuntimeUnavailableError, Session, type SessionOptions, graphSignature } from "../../runtime/index.js";
import { float16ToFloat32Array, float32ToFloat16Array } from "../../tensor/float16.js";
import { type DType, Tensor } from "../../tensor/tensor.js";
import { StateDict, stateDictFromSafetensors, stateDictFromTensors } from "../weights/index.js";
import {
  CompiledCacheError,
  cacheRoot,
  cacheRootError,
  discardEntry,
  ensureCacheRoot,
  inodeOf,
  sweepTempFolders,
  tempFolderName,
  type CacheRoot,
} from "./cache-folder.js";

export { CompiledCacheError, defaultCacheDir } from "./cache-folder.js";

/** Bumped when the layout of an entry or the key's recipe changes. */
export const CACHE_FORMAT = 1;
const MODEL_FILE = "model.onnx";
const MANIFEST_FILE = "manifest.json";
const SAMPLE_BYTES = 4096;

const VERSION = (JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as { version: string }).version;

/** What a graph is built from, besides weights: everything that changes the emitted model. */
export interface CompiledModelSpec {
  /** The builder: "unet3d", "vae_decoder", "clip_text_encoder", ... */
  kind: string;
  /** The parsed config object (plain JSON data). */
  config: unknown;
  /** Build options that change the graph (variant, input dims, layouts): plain JSON data, no functions. */
  options?: unknown;
  /** Parameter dtype the graph declares. */
  dtype: "float32" | "float16";
}

/** A safetensors file path, a StateDict, or tensors by name. */
export type CompiledWeights = string | StateDict | ReadonlyMap<string, Tensor>;

export interface CompiledCacheOptions {
  /** Default: $VIDRD_CACHE_DIR, else ~/.cache/vidrd. */
  cacheDir?: string;
  /** "sampled" (default) or "full": see the header of this file. */
  fingerprint?: "sampled" | "full";
  /**
   * The weights' identity as the caller knows it (a content hash it already has, a release tag, the seed
   * of generated weights), used in the key instead of a fingerprint, so the weights are not read to be
   * fingerprinted. The caller vouches that different weights never share an id.
   */
  weightsId?: string;
  session?: SessionOptions;
  /** Emission options (weights come from `weights`). */
  emit?: Omit<EmitOptions, "weights" | "externalFileName">;
}

export interface CompiledModel {
  session: Session;
  /** Whether the model came from the cache (the builder was not called). */
  hit: boolean;
  key: string;
  /** The entry's directory. */
  dir: string;
}


/** Updates `hash` with the sampled (first, middle, last SAMPLE_BYTES) or all bytes of one tensor. */
function hashTensorBytes(hash: ReturnType<typeof createHash>, length: number, read: (offset: number, n: number) => Uint8Array, full: boolean): void {
  if (full || length <= 3 * SAMPLE_BYTES) {
    const step = 64 * 2 ** 20; // bounded reads for large tensors
    for (let at = 0; at < length; at += step) hash.update(read(at, Math.min(step, length - at)));
    return;
  }
  const middle = Math.floor((length - SAMPLE_BYTES) / 2);
  for (const at of [0, middle, length - SAMPLE_BYTES]) hash.update(read(at, SAMPLE_BYTES));
}

/** The weights' fingerprint (hex sha256); a file is read only where sampled (or all of it for "full"). */
export function weightsFingerprint(weights: CompiledWeights, mode: "sampled" | "full" = "sampled"): string {
  const hash = createHash("sha256");
  const full = mode === "full";
  if (typeof weights === "string") {
    const file = SafetensorsFile.open(weights); // validates the header: offsets below lie inside the file
    const fd = openSync(weights, "r");
    try {
      const readAt = (position: number, n: number): Uint8Array => {
        const bytes = new Uint8Array(n);
        for (let done = 0; done < n; ) {
          const got = readSync(fd, bytes, done, n - done, position + done);
          if (got === 0) throw new CompiledCacheError(`${weights}: file ends at ${position + done} while fingerprinting`);
          done += got;
        }
        return bytes;
      };
      const size = fstatSync(fd).size;
      const headerLength = Number(Buffer.from(readAt(0, 8)).readBigUInt64LE(0));
      hash.update(`safetensors ${size} ${headerLength}\n`).update(readAt(8, headerLength));
      const dataStart = 8 + headerLength;
      for (const name of file.names()) {
        const { dataOffsets, byteLength } = file.info(name);
        hashTensorBytes(hash, byteLength, (offset, n) => readAt(dataStart + dataOffsets[0] + offset, n), full);
      }
    } finally {
      closeSync(fd);
      file.close();
    }
    return hash.digest("hex");
  }
  const sd = weights instanceof StateDict ? weights : stateDictFromTensors("weights", weights);
  for (const name of [...sd.names()].sort()) {
    const e = sd.entry(name);
    const t = e.read();
    const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    hash.update(`${JSON.stringify(name)} ${e.storedDType} [${e.shape.join(",")}]\n`);
    hashTensorBytes(hash, bytes.byteLength, (offset, n) => bytes.subarray(offset, offset + n), full);
  }
  return hash.digest("hex");
}

/** The cache key of a spec and a weights fingerprint. */
export function compiledModelKey(spec: CompiledModelSpec, fingerprint: string): string {
  let identity: string;
  try {
    identity = canonicalJson({ kind: spec.kind, config: spec.config, options: spec.options ?? null, dtype: spec.dtype }, "spec");
  } catch (e) {
    throw new CompiledCacheError(`${(e as Error).message} (a cache key)`);
  }
  return createHash("sha256").update(`vidrd-compiled ${CACHE_FORMAT} ${VERSION}\n${identity}\n${fingerprint}\n`).digest("hex");
}

interface Manifest {
  format: number;
  key: string;
  version: string;
  /** File name -> size in bytes, every file of the entry but the manifest. */
  files: Record<string, number>;
  signature: GraphSignature;
}

/** The manifest of a complete entry for `key`, or null (missing, unreadable, other key, a file of another size). */
function readEntry(dir: string, key: string): Manifest | null {
  try {
    const m = JSON.parse(readFileSync(join(dir, MANIFEST_FILE), "utf8")) as Manifest;
    if (m.format !== CACHE_FORMAT || m.key !== key || typeof m.files !== "object" || !m.signature) return null;
    for (const [name, size] of Object.entries(m.files)) {
      if (statSync(join(dir, name)).size !== size) return null;
    }
    return m;
  } catch {
    return null;
  }
}

const isFloat = (d: DType) => d === "float32" || d === "float16";

/** The dtype a stored tensor is emitted as: float data in the dtype its parameter declares, the rest as stored. */
function emittedDType(stored: DType, declared: DType): DType {
  return isFloat(stored) && isFloat(declared) ? declared : stored;
}

function toDType(t: Tensor, dtype: DType): Tensor {
  if (t.dtype === dtype) return t;
  return dtype === "float16"
    ? new Tensor("float16", float32ToFloat16Array(t.data as Float32Array), t.shape)
    : new Tensor("float32", float16ToFloat32Array(t.data as Uint16Array), t.shape);
}

/**
 * Weights by parameter name as lazy entries, float data converted to the dtype each parameter declares.
 * Nothing is read here: emission reads each tensor (from a file: by offset) when it writes it.
 */
function weightSource(graph: Graph, weights: CompiledWeights): { source: LazyWeightSource; close: () => void } {
  const sd = typeof weights === "string" ? stateDictFromSafetensors(SafetensorsFile.open(weights)) : weights instanceof StateDict ? weights : null;
  const lazy = (name: string): LazyWeight | undefined => {
    const declared = graph.params.get(name)?.value.dtype;
    if (sd) {
      const entry = sd.get(name);
      if (!entry || !declared) return undefined;
      // A dtype vidrd cannot hold: reading throws the reader's error, which names the tensor and its dtype.
      if (entry.dtype === null) return void entry.read();
      const dtype = emittedDType(entry.dtype, declared);
      return { dtype, shape: entry.shape, read: () => toDType(entry.read(), dtype) };
    }
    const t = (weights as ReadonlyMap<string, Tensor>).get(name);
    if (!t || !declared) return undefined;
    const dtype = emittedDType(t.dtype, declared);
    return { dtype, shape: t.shape, read: () => toDType(t, dtype) };
  };
  return { source: { lazy }, close: () => (typeof weights === "string" ? sd!.close() : undefined) };
}

/** An entry in place: written by this process, or (`adopted`) a complete one another process installed. */
interface WrittenEntry {
  manifest: Manifest;
  adopted: boolean;
}

/**
 * Renames the complete entry `staging` to `<root>/<key>`. A complete entry already there is used instead
 * (the rename onto a folder with files fails); an incomplete one is moved aside, replaced, then deleted.
 */
function installEntry(root: string, key: string, staging: string, manifest: Manifest): WrittenEntry {
  const dir = join(root, key);
  for (let attempt = 1; ; attempt++) {
    try {
      renameSync(staging, dir); // atomic; replaces only a missing or empty folder
      return { manifest, adopted: false };
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== "ENOTEMPTY" && code !== "EEXIST" && code !== "ENOTDIR" && code !== "EISDIR" && code !== "EPERM") throw e;
      const existing = readEntry(dir, key);
      if (existing) return { manifest: existing, adopted: true }; // another process finished first
      if (attempt >= 5) throw e;
      // incomplete or damaged: move it aside under a unique name (nobody sees a half-deleted entry), retry
      const aside = join(root, tempFolderName("discard", key));
      try {
        renameSync(dir, aside);
      } catch {
        continue; // moved or replaced by another process meanwhile: look again
      }
      if (readEntry(aside, key)) {
        // another process installed a complete one between the check and the move: put it back and use it
        try {
          renameSync(aside, dir);
          const back = readEntry(dir, key);
          if (back) return { manifest: back, adopted: true };
        } catch {
          // something else took the place: drop this one and look again
        }
      }
      rmSync(aside, { recursive: true, force: true });
    }
  }
}

/** Builds, emits and writes an entry for `key` under `root`, atomically, and installs it (see installEntry). */
function writeEntry(where: CacheRoot, key: string, build: (g: Graph) => void, weights: CompiledWeights, opts: CompiledCacheOptions): WrittenEntry {
  const { root } = where;
  const graph = new Graph(key.slice(0, 16));
  build(graph);
  const staging = join(root, tempFolderName("staging", key));
  const { source, close } = weightSource(graph, weights);
  try {
    const plan = planOnnx(graph, { ...opts.emit, weights: source, externalFileName: `${MODEL_FILE}.data` });
    try {
      mkdirSync(staging);
    } catch (e) {
      throw cacheRootError(where, e);
    }
    // Streaming: each weight is read, written to the entry's data file and dropped before the next.
    const written = writePlan(plan, join(staging, MODEL_FILE));
    const files: Record<string, number> = { [MODEL_FILE]: written.modelBytes };
    if (written.external) files[written.external.fileName] = statSync(join(staging, written.external.fileName)).size;
    const signature = graphSignature(graph, written);
    const manifest: Manifest = {
      format: CACHE_FORMAT,
      key,
      version: VERSION,
      files,
      signature: { ...signature, constraints: signature.constraints.map((c) => ({ ...c, node: null })) },
    };
    writeFileSync(join(staging, MANIFEST_FILE), JSON.stringify(manifest)); // last: its presence marks a complete entry
    return installEntry(root, key, staging, manifest);
  } finally {
    close();
    rmSync(staging, { recursive: true, force: true }); // gone when installed; dropped when another entry was used
  }
}

/** Whether a failure to load an entry says nothing about the entry (bad session options, no runtime). */
const notTheEntry = (e: unknown) => e instanceof RangeError || e instanceof RuntimeUnavailableError;

/**
 * A session for the model `build` makes from `spec` and `weights`: loaded from the cache when an entry for
 * their key is there and complete, otherwise built (`build` called once), written to the cache, and loaded.
 * `build` must add the whole model to the graph it is given, consistently with `spec`. An entry that is
 * there but fails to load is discarded and built again, once; a second failure is a CompiledCacheError
 * naming the entry and the cache folder, as is a cache folder that is not a writable folder.
 */
export async function loadCompiledModel(
  spec: CompiledModelSpec,
  weights: CompiledWeights,
  build: (g: Graph) => void,
  opts: CompiledCacheOptions = {},
): Promise<CompiledModel> {
  if (spec.dtype !== "float32" && spec.dtype !== "float16") throw new CompiledCacheError(`spec.dtype must be float32 or float16, got ${JSON.stringify(spec.dtype)}`);
  const where = cacheRoot(opts);
  const { root } = where;
  if (opts.weightsId !== undefined && (typeof opts.weightsId !== "string" || opts.weightsId === "")) {
    throw new CompiledCacheError(`weightsId must be a non-empty string, got ${JSON.stringify(opts.weightsId)}`);
  }
  // "id:" keeps a caller's id apart from every fingerprint (64 hex digits)
  const identity = opts.weightsId !== undefined ? `id:${opts.weightsId}` : weightsFingerprint(weights, opts.fingerprint ?? "sampled");
  const key = compiledModelKey(spec, identity);
  const dir = join(root, key);
  sweepTempFolders(root);
  const load = (m: Manifest) => Session.fromFile(join(dir, MODEL_FILE), opts.session, m.signature);
  const buildEntry = (): WrittenEntry => {
    ensureCacheRoot(where); // before the build, which may take minutes
    return writeEntry(where, key, build, weights, opts);
  };

  const found = existsSync(dir) ? readEntry(dir, key) : null;
  const hit = found !== null;
  // An entry this process did not write (a hit, or one another process installed during our build) may be
  // damaged: on a failure to load it, it is discarded and built again, once.
  let entry: WrittenEntry = found ? { manifest: found, adopted: true } : buildEntry();
  let rebuilt = false;
  for (;;) {
    const ino = inodeOf(dir);
    try {
      return { session: await load(entry.manifest), hit: hit && !rebuilt, key, dir };
    } catch (e) {
      if (notTheEntry(e)) throw e;
      if (entry.adopted && !rebuilt) {
        discardEntry(root, dir, key, ino);
        rebuilt = true;
        entry = buildEntry();
        continue;
      }
      throw new CompiledCacheError(
        `cannot load the compiled model in ${dir}${rebuilt ? ", even after rebuilding it" : ", just built"}: ${(e as Error)?.message ?? String(e)} ` +
          `(cache folder ${root}, from ${where.source}; delete ${dir} to build it again, or ${where.other})`,
        { cause: e },
      );
    }
  }
}
