// `torch.save` files (.pth, .pt, .bin, .ckpt), in both layouts torch writes:
//
// zip (torch >= 1.6, the default):       legacy (`_use_new_zipfile_serialization=False`):
//   <stem>/data.pkl    the object's pickle    pickle: magic number 0x1950a86a20f9469cfc6c
//   <stem>/data/<key>  raw storage bytes      pickle: protocol version 1001
//   <stem>/version     format version         pickle: sys_info {little_endian, type_sizes, ...}
//   <stem>/byteorder   "little" (newer torch) pickle: the object (storages as persistent ids)
//                                             pickle: list of storage keys, in data order
//                                             per key: int64 element count, then the raw elements
//
// Opening parses the pickle (with the restricted unpickler: nothing runs) and leaves every storage on
// disk; a tensor's bytes are read when `TorchTensor.read()` is called. The stem is whatever the file was
// named when saved, so it is found, not assumed.

import { pthError } from "./errors.js";
import { FileSource, MemorySource, readBytes, type ByteSource } from "../byte-source.js";
import { PthError } from "./errors.js";
import { PickleTruncatedError, unpickle } from "./unpickler.js";
import { torchUnpicklerOptions, type StorageOpener, type UnknownGlobals } from "./torch-globals.js";
import { ZipArchive, looksLikeZip } from "./zip-archive.js";
import type { PickleValue } from "./pickle-values.js";

export interface PthReadOptions {
  /**
   * "refuse" (default): any global outside the tensor/container allow-list stops the load.
   * "stub": such globals become inert PickleObject records (never called), for training checkpoints
   * that pickle config classes next to their weights; names only an attack would use still stop it.
   */
  readonly unknownGlobals?: UnknownGlobals;
}

export type PthFormat = "zip" | "legacy";

/** The legacy format's first pickle: PROTO 2, LONG1 of 10 bytes (the magic number, little-endian). */
const LEGACY_PREFIX = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];
const LEGACY_PROTOCOL_VERSION = 1001;

/** Which torch layout `head` (a file's first 16 bytes or more) starts like, or null. */
export function sniffPth(head: Uint8Array): PthFormat | null {
  if (looksLikeZip(head)) return "zip";
  if (LEGACY_PREFIX.every((b, i) => head[i] === b)) return "legacy";
  return null;
}

export class PthFile {
  private constructor(
    readonly label: string,
    readonly format: PthFormat,
    /** The saved object: Maps, arrays, numbers, strings, with TorchTensor leaves. */
    readonly value: PickleValue,
    private readonly onClose: () => void,
  ) {}

  static open(path: string, options: PthReadOptions = {}): PthFile {
    return PthFile.fromSource(FileSource.open(path, pthError), options);
  }

  /** `bytes` is not copied; do not change it while the file is in use. */
  static fromBytes(bytes: Uint8Array, label = "<pth bytes>", options: PthReadOptions = {}): PthFile {
    return PthFile.fromSource(new MemorySource(bytes, label, pthError), options);
  }

  private static fromSource(source: ByteSource, options: PthReadOptions): PthFile {
    const unknownGlobals = options.unknownGlobals ?? "refuse";
    try {
      const head = readBytes(source, 0, Math.min(16, source.size), "the file's first bytes");
      const format = sniffPth(head);
      if (format !== null) {
        const opened = format === "zip" ? openZip(ZipArchive.fromSource(source), unknownGlobals) : openLegacy(source, unknownGlobals);
        return new PthFile(source.label, format, opened.value, opened.close);
      }
      throw new PthError(`${source.label}: not a torch.save file (neither a zip archive nor the legacy pickle layout)`);
    } catch (e) {
      source.close();
      throw e;
    }
  }

  /** Releases the file; later `read()`s of its tensors throw. Safe to call twice. */
  close(): void {
    this.onClose();
  }
}

interface Opened {
  readonly value: PickleValue;
  readonly close: () => void;
}

function openZip(zip: ZipArchive, unknownGlobals: UnknownGlobals): Opened {
  const label = zip.label;
  try {
    const names = zip.entries().map((e) => e.name);
    const pickles = names.filter((n) => /^[^/]+\/data\.pkl$/.test(n));
    if (pickles.length !== 1) {
      const shown = names.slice(0, 6).join(", ") + (names.length > 6 ? ", ..." : "");
      throw new PthError(
        pickles.length === 0
          ? `${label}: a zip archive without <name>/data.pkl, so not a torch.save file (entries: ${shown || "none"})`
          : `${label}: the archive holds ${pickles.length} data.pkl files (${pickles.join(", ")}); expected one`,
      );
    }
    const stem = pickles[0].slice(0, -"/data.pkl".length);
    if (names.some((n) => n.startsWith(`${stem}/code/`))) {
      throw new PthError(`${label}: a TorchScript archive (torch.jit.save); only torch.save checkpoints are supported`);
    }
    const byteorder = zip.get(`${stem}/byteorder`);
    if (byteorder !== undefined) {
      const order = new TextDecoder().decode(zip.read(byteorder.name)).trim();
      if (order !== "little") throw new PthError(`${label}: storages are ${order}-endian; only little-endian checkpoints are supported`);
    }
    const openStorage: StorageOpener = (key, _type, _numel, where) => {
      const name = `${stem}/data/${key}`;
      const entry = zip.get(name);
      if (entry === undefined) throw new PthError(`${where}: the pickle refers to storage ${key} but the archive has no ${name}; the file is corrupt`);
      return { byteLength: entry.size, read: (offset, length) => zip.readRange(name, offset, length) };
    };
    const pickleLabel = `${label} (${stem}/data.pkl)`;
    const { value } = unpickle(zip.read(`${stem}/data.pkl`), torchUnpicklerOptions(pickleLabel, unknownGlobals, openStorage));
    return { value, close: () => zip.close() };
  } catch (e) {
    zip.close();
    throw e;
  }
}

/** The legacy layout's pickles are small next to its data; read a prefix and grow it until they parse. */
const LEGACY_FIRST_READ = 1 << 20;

function openLegacy(source: ByteSource, unknownGlobals: UnknownGlobals): Opened {
  for (let prefixLength = Math.min(source.size, LEGACY_FIRST_READ); ; prefixLength = Math.min(source.size, prefixLength * 4)) {
    const prefix = readBytes(source, 0, prefixLength, "the legacy pickles");
    try {
      return parseLegacy(source, prefix, unknownGlobals);
    } catch (e) {
      if (!(e instanceof PickleTruncatedError) || prefixLength === source.size) throw e;
    }
  }
}

function parseLegacy(source: ByteSource, prefix: Uint8Array, unknownGlobals: UnknownGlobals): Opened {
  const label = source.label;
  const plain = torchUnpicklerOptions(label, "refuse", () => {
    throw new PthError(`${label}: a storage reference in the legacy header`);
  });
  const magic = unpickle(prefix, plain);
  const protocol = unpickle(prefix, { ...plain, start: magic.end });
  if (protocol.value !== LEGACY_PROTOCOL_VERSION) throw new PthError(`${label}: legacy torch format version ${String(protocol.value)}; supported: ${LEGACY_PROTOCOL_VERSION}`);
  const sysInfo = unpickle(prefix, { ...plain, start: protocol.end });
  if (sysInfo.value instanceof Map && sysInfo.value.get("little_endian") === false) {
    throw new PthError(`${label}: saved on a big-endian machine; only little-endian checkpoints are supported`);
  }

  // Storage positions are known only after the key list that follows the object's pickle.
  const pending = new Map<string, { itemSize: number; numel: number; position: number }>();
  const openStorage: StorageOpener = (key, type, numel) => {
    const record = { itemSize: type.itemSize, numel, position: -1 };
    pending.set(key, record);
    return {
      byteLength: numel * type.itemSize,
      read: (offset, length) => readBytes(source, record.position + offset, length, `storage ${key}`),
    };
  };
  const object = unpickle(prefix, { ...torchUnpicklerOptions(label, unknownGlobals, openStorage), start: sysInfo.end });
  const keys = unpickle(prefix, { ...plain, start: object.end });
  if (!Array.isArray(keys.value) || !keys.value.every((k) => typeof k === "string")) throw new PthError(`${label}: the legacy storage key list is malformed`);

  let position = keys.end;
  for (const key of keys.value as string[]) {
    const record = pending.get(key);
    if (record === undefined) throw new PthError(`${label}: storage ${key} is listed but no tensor refers to it`);
    const count = new DataView(readBytes(source, position, 8, `the size of storage ${key}`).buffer).getBigInt64(0, true);
    if (count !== BigInt(record.numel)) throw new PthError(`${label}: storage ${key} holds ${count} elements, its reference says ${record.numel}; the file is corrupt`);
    record.position = position + 8;
    position = record.position + record.numel * record.itemSize;
    if (position > source.size) throw new PthError(`${label}: storage ${key} runs past the end of the file; is it truncated?`);
  }
  for (const [key, record] of pending) {
    if (record.position < 0) throw new PthError(`${label}: storage ${key} is referred to but not in the file's key list`);
  }
  return { value: object.value, close: () => source.close() };
}
