// Positioned, synchronous reads from a file or from bytes in memory, so a multi-GB checkpoint is never
// loaded whole: the zip directory, the pickle and each storage are read where they lie.

import { closeSync, fstatSync, openSync, readSync } from "node:fs";

/** Makes the error type of the format being read (SafetensorsError, PthError, ...). */
export type ErrorFactory = (message: string, options?: { cause?: unknown }) => Error;

export interface ByteSource {
  readonly label: string;
  readonly size: number;
  /** Builds errors of the reader's own type. */
  readonly makeError: ErrorFactory;
  /** Fills `into` with the bytes at [position, position + into.length). */
  readAt(position: number, into: Uint8Array, what: string): void;
  close(): void;
}

/** Node's positioned reads take at most 2 GiB at a time. */
const MAX_READ_CHUNK = 1 << 30;

export class FileSource implements ByteSource {
  private fd: number | null;
  private constructor(
    fd: number,
    readonly size: number,
    readonly label: string,
    readonly makeError: ErrorFactory,
  ) {
    this.fd = fd;
  }

  static open(path: string, makeError: ErrorFactory): FileSource {
    let fd: number;
    try {
      fd = openSync(path, "r");
    } catch (e) {
      throw makeError(`${path}: cannot open: ${(e as Error).message}`, { cause: e });
    }
    try {
      return new FileSource(fd, fstatSync(fd).size, path, makeError);
    } catch (e) {
      closeSync(fd);
      throw makeError(`${path}: cannot stat: ${(e as Error).message}`, { cause: e });
    }
  }

  readAt(position: number, into: Uint8Array, what: string): void {
    if (this.fd === null) throw this.makeError(`${this.label}: file is closed (reading ${what})`);
    checkRange(this, position, into.length, what);
    let done = 0;
    while (done < into.length) {
      const length = Math.min(into.length - done, MAX_READ_CHUNK);
      let n: number;
      try {
        n = readSync(this.fd, into, done, length, position + done);
      } catch (e) {
        throw this.makeError(`${this.label}: reading ${what} failed: ${(e as Error).message}`, { cause: e });
      }
      // A file truncated after open() would otherwise make this loop spin forever.
      if (n === 0) throw this.makeError(`${this.label}: file ends at byte ${position + done} while reading ${what}; was it truncated?`);
      done += n;
    }
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

export class MemorySource implements ByteSource {
  private closed = false;
  constructor(
    private readonly bytes: Uint8Array,
    readonly label: string,
    readonly makeError: ErrorFactory,
  ) {}
  get size(): number {
    return this.bytes.length;
  }
  readAt(position: number, into: Uint8Array, what: string): void {
    if (this.closed) throw this.makeError(`${this.label}: closed (reading ${what})`);
    checkRange(this, position, into.length, what);
    into.set(this.bytes.subarray(position, position + into.length));
  }
  close(): void {
    this.closed = true;
  }
}

/** Reads `length` bytes at `position` into a fresh buffer of its own (so typed-array views are aligned). */
export function readBytes(source: ByteSource, position: number, length: number, what: string): Uint8Array {
  let out: Uint8Array;
  try {
    out = new Uint8Array(length);
  } catch (e) {
    throw source.makeError(`${source.label}: cannot allocate ${length} bytes for ${what}: ${(e as Error).message}`, { cause: e });
  }
  source.readAt(position, out, what);
  return out;
}

function checkRange(source: ByteSource, position: number, length: number, what: string): void {
  if (!Number.isSafeInteger(position) || position < 0 || position + length > source.size) {
    throw source.makeError(
      `${source.label}: ${what} lies at bytes [${position}, ${position + length}) but the file has ${source.size} bytes; is it truncated?`,
    );
  }
}
