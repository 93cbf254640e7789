// The part of the zip format (APPNOTE.TXT 6.3) that `torch.save` archives use: a central directory
// (zip64 when the file or an entry passes 4 GiB), entries stored uncompressed (torch pads each local
// header's extra field so storages start at 64-byte boundaries) or, in archives re-packed by other
// tools, deflated. Reads are synchronous and positioned: opening reads only the directory; an entry,
// or a byte range of a stored entry, is read when asked for.
//
// Why not a zip library: the ones at hand (yauzl) are callback/stream based, which would make every
// weights load asynchronous while `SafetensorsFile` is synchronous, and torch archives need only this
// small subset (no encryption, no multi-disk, two compression methods).

import * as zlib from "node:zlib";
import { pthError } from "./errors.js";
import { FileSource, MemorySource, readBytes, type ByteSource } from "../byte-source.js";
import { PthError } from "./errors.js";

export interface ZipEntry {
  readonly name: string;
  /** 0: stored, 8: deflated. */
  readonly method: 0 | 8;
  readonly crc32: number;
  readonly compressedSize: number;
  readonly size: number;
  readonly localHeaderOffset: number;
}

const EOCD_SIGNATURE = 0x06054b50;
const ZIP64_LOCATOR_SIGNATURE = 0x07064b50;
const ZIP64_EOCD_SIGNATURE = 0x06064b50;
const CENTRAL_SIGNATURE = 0x02014b50;
const LOCAL_SIGNATURE = 0x04034b50;
const EOCD_SIZE = 22;
const MAX_COMMENT = 0xffff;
const ZIP64_EXTRA_ID = 0x0001;

/** True when `head` (the first bytes of a file) starts like a zip archive. */
export function looksLikeZip(head: Uint8Array): boolean {
  return head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04;
}

export class ZipArchive {
  /** Where each entry's data starts, found from its local header on first read. */
  private readonly dataStarts = new Map<string, number>();

  private constructor(
    private readonly source: ByteSource,
    private readonly byName: ReadonlyMap<string, ZipEntry>,
  ) {}

  get label(): string {
    return this.source.label;
  }

  static open(path: string): ZipArchive {
    return ZipArchive.fromSource(FileSource.open(path, pthError));
  }

  /** `bytes` is not copied; do not change it while the archive is in use. */
  static fromBytes(bytes: Uint8Array, label = "<zip bytes>"): ZipArchive {
    return ZipArchive.fromSource(new MemorySource(bytes, label, pthError));
  }

  /** Takes ownership of `source`: it is closed by `close`, or at once when the directory is invalid. */
  static fromSource(source: ByteSource): ZipArchive {
    try {
      return new ZipArchive(source, readCentralDirectory(source));
    } catch (e) {
      source.close();
      throw e;
    }
  }

  /** Entries in central-directory order. */
  entries(): ZipEntry[] {
    return [...this.byName.values()];
  }

  get(name: string): ZipEntry | undefined {
    return this.byName.get(name);
  }

  /** The whole entry, uncompressed, in a fresh buffer; its CRC-32 is checked. */
  read(name: string): Uint8Array {
    const entry = this.entry(name);
    const raw = readBytes(this.source, this.dataStart(entry), entry.compressedSize, `zip entry ${entry.name}`);
    let data = raw;
    if (entry.method === 8) {
      try {
        data = new Uint8Array(zlib.inflateRawSync(raw, { maxOutputLength: Math.max(entry.size, 1) }));
      } catch (e) {
        throw new PthError(`${this.label}: zip entry ${entry.name} does not inflate: ${(e as Error).message}`, { cause: e });
      }
      // inflateRawSync returns a pooled Buffer for small outputs; copy so the data owns its buffer
      data = data.byteOffset === 0 && data.buffer.byteLength === data.length ? data : data.slice();
    }
    if (data.length !== entry.size) {
      throw new PthError(`${this.label}: zip entry ${entry.name} holds ${data.length} bytes, its directory says ${entry.size}`);
    }
    const crc = crc32(data);
    if (crc !== entry.crc32) {
      throw new PthError(
        `${this.label}: zip entry ${entry.name} fails its CRC-32 check (0x${hex32(crc)}, directory says 0x${hex32(entry.crc32)}); the file is corrupt`,
      );
    }
    return data;
  }

  /**
   * `length` bytes from `offset` within the entry, in a fresh buffer. Stored entries are read in place
   * (no CRC check: that needs the whole entry); deflated ones are inflated whole first.
   */
  readRange(name: string, offset: number, length: number): Uint8Array {
    const entry = this.entry(name);
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0 || offset + length > entry.size) {
      throw new PthError(`${this.label}: bytes [${offset}, ${offset + length}) are outside zip entry ${entry.name} (${entry.size} bytes)`);
    }
    if (entry.method === 8) return this.read(name).slice(offset, offset + length);
    if (offset === 0 && length === entry.size && length <= CHECKED_READ_LIMIT) return this.read(name);
    return readBytes(this.source, this.dataStart(entry) + offset, length, `zip entry ${entry.name}`);
  }

  close(): void {
    this.source.close();
  }

  private entry(name: string): ZipEntry {
    const entry = this.byName.get(name);
    if (entry === undefined) throw new PthError(`${this.label}: the archive has no entry ${name}`);
    return entry;
  }

  private dataStart(entry: ZipEntry): number {
    const known = this.dataStarts.get(entry.name);
    if (known !== undefined) return known;
    const header = readBytes(this.source, entry.localHeaderOffset, 30, `the local header of zip entry ${entry.name}`);
    const view = new DataView(header.buffer);
    if (view.getUint32(0, true) !== LOCAL_SIGNATURE) {
      throw new PthError(`${this.label}: zip entry ${entry.name} has no local header at byte ${entry.localHeaderOffset}; the file is corrupt`);
    }
    const start = entry.localHeaderOffset + 30 + view.getUint16(26, true) + view.getUint16(28, true);
    if (start + entry.compressedSize > this.source.size) {
      throw new PthError(`${this.label}: zip entry ${entry.name} runs past the end of the file; is it truncated?`);
    }
    this.dataStarts.set(entry.name, start);
    return start;
  }
}

/** Whole stored entries up to this size are CRC-checked when read; larger ones are read in place. */
const CHECKED_READ_LIMIT = 1 << 30;

function readCentralDirectory(source: ByteSource): Map<string, ZipEntry> {
  const label = source.label;
  const tailLength = Math.min(source.size, EOCD_SIZE + MAX_COMMENT);
  const tail = readBytes(source, source.size - tailLength, tailLength, "the end of the zip archive");
  const tailView = new DataView(tail.buffer);
  let eocd = -1;
  for (let i = tailLength - EOCD_SIZE; i >= 0; i--) {
    if (tailView.getUint32(i, true) === EOCD_SIGNATURE && i + EOCD_SIZE + tailView.getUint16(i + 20, true) === tailLength) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new PthError(`${label}: no zip end-of-central-directory record; the file is truncated or not a zip archive`);
  let count = tailView.getUint16(eocd + 10, true);
  let directorySize = tailView.getUint32(eocd + 12, true);
  let directoryOffset = tailView.getUint32(eocd + 16, true);
  if (tailView.getUint16(eocd + 4, true) !== 0 || tailView.getUint16(eocd + 6, true) !== 0) {
    throw new PthError(`${label}: multi-disk zip archives are not supported`);
  }
  const locator = eocd - 20;
  if (locator >= 0 && tailView.getUint32(locator, true) === ZIP64_LOCATOR_SIGNATURE) {
    const recordOffset = safeNumber(tailView.getBigUint64(locator + 8, true), label, "the zip64 record offset");
    const record = readBytes(source, recordOffset, 56, "the zip64 end-of-central-directory record");
    const view = new DataView(record.buffer);
    if (view.getUint32(0, true) !== ZIP64_EOCD_SIGNATURE) throw new PthError(`${label}: the zip64 end-of-central-directory record is missing; the file is corrupt`);
    count = safeNumber(view.getBigUint64(32, true), label, "the zip64 entry count");
    directorySize = safeNumber(view.getBigUint64(40, true), label, "the zip64 directory size");
    directoryOffset = safeNumber(view.getBigUint64(48, true), label, "the zip64 directory offset");
  }
  if (directoryOffset + directorySize > source.size) {
    throw new PthError(`${label}: the zip central directory lies past the end of the file; is it truncated?`);
  }
  const directory = readBytes(source, directoryOffset, directorySize, "the zip central directory");
  const view = new DataView(directory.buffer);
  const decoder = new TextDecoder("utf-8", { fatal: false });
  const entries = new Map<string, ZipEntry>();
  let p = 0;
  for (let i = 0; i < count; i++) {
    if (p + 46 > directorySize || view.getUint32(p, true) !== CENTRAL_SIGNATURE) {
      throw new PthError(`${label}: zip central directory entry ${i} of ${count} is malformed; the file is corrupt`);
    }
    const flags = view.getUint16(p + 8, true);
    const method = view.getUint16(p + 10, true);
    const crc = view.getUint32(p + 16, true);
    let compressedSize = view.getUint32(p + 20, true);
    let size = view.getUint32(p + 24, true);
    const nameLength = view.getUint16(p + 28, true);
    const extraLength = view.getUint16(p + 30, true);
    const commentLength = view.getUint16(p + 32, true);
    let localHeaderOffset = view.getUint32(p + 42, true);
    const end = p + 46 + nameLength + extraLength + commentLength;
    if (end > directorySize) throw new PthError(`${label}: zip central directory entry ${i} runs past the directory; the file is corrupt`);
    const name = decoder.decode(directory.subarray(p + 46, p + 46 + nameLength));
    // zip64 extra field: the 64-bit values of exactly those fields whose 32-bit slot is all ones, in order
    for (let q = p + 46 + nameLength; q + 4 <= p + 46 + nameLength + extraLength; ) {
      const id = view.getUint16(q, true);
      const length = view.getUint16(q + 2, true);
      if (id === ZIP64_EXTRA_ID) {
        let r = q + 4;
        const next = (what: string): number => {
          if (r + 8 > q + 4 + length) throw new PthError(`${label}: zip entry ${name}: its zip64 field lacks ${what}`);
          const v = safeNumber(view.getBigUint64(r, true), label, `${what} of zip entry ${name}`);
          r += 8;
          return v;
        };
        if (size === 0xffffffff) size = next("the size");
        if (compressedSize === 0xffffffff) compressedSize = next("the compressed size");
        if (localHeaderOffset === 0xffffffff) localHeaderOffset = next("the header offset");
      }
      q += 4 + length;
    }
    if (flags & 1) throw new PthError(`${label}: zip entry ${name} is encrypted; not supported`);
    if (method !== 0 && method !== 8) throw new PthError(`${label}: zip entry ${name} uses compression method ${method}; supported: 0 (stored), 8 (deflate)`);
    if (method === 0 && compressedSize !== size) throw new PthError(`${label}: stored zip entry ${name} has size ${size} but ${compressedSize} stored bytes; the file is corrupt`);
    if (localHeaderOffset + compressedSize > source.size) throw new PthError(`${label}: zip entry ${name} lies past the end of the file; is it truncated?`);
    if (entries.has(name)) throw new PthError(`${label}: zip entry ${name} appears twice`);
    entries.set(name, { name, method, crc32: crc, compressedSize, size, localHeaderOffset });
    p = end;
  }
  return entries;
}

function safeNumber(v: bigint, label: string, what: string): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new PthError(`${label}: ${what} (${v}) is too large; the file is corrupt`);
  return Number(v);
}

function hex32(v: number): string {
  return (v >>> 0).toString(16).padStart(8, "0");
}

let crcTable: Uint32Array | undefined;

/** zlib's own crc32 (Node >= 20.15), about 10x faster than the table loop below, which stands in for it. */
const nativeCrc32 = (zlib as { crc32?: (data: Uint8Array) => number }).crc32;

/** CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), as zip stores it. */
export function crc32(bytes: Uint8Array): number {
  if (nativeCrc32 !== undefined) return nativeCrc32(bytes) >>> 0;
  return tableCrc32(bytes);
}

export function tableCrc32(bytes: Uint8Array): number {
  if (crcTable === undefined) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  const table = crcTable;
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = table[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
