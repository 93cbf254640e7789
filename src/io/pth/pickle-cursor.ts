// Reading the arguments of pickle opcodes: fixed-size little-endian ints, length-prefixed strings and
// bytes, and the newline-terminated text arguments of protocol 0. Every length is checked against the
// bytes left before anything is sliced; running out is a PickleTruncatedError, so a caller holding only
// a prefix of a file can retry with more.

import { PickleRefusedError, PthError } from "./errors.js";

/** The stream ended before STOP; a caller holding only a prefix of a file can retry with more bytes. */
export class PickleTruncatedError extends PthError {
  override readonly name: string = "PickleTruncatedError";
}

/** Python accepts any length; a checkpoint never needs more than a few bytes for an int. */
const MAX_LONG_BYTES = 4096;

export class PickleCursor {
  protected pos: number;
  /** Where the opcode being executed starts; errors name it. */
  protected opStart = 0;
  protected readonly view: DataView;

  constructor(
    protected readonly bytes: Uint8Array,
    protected readonly label: string,
    start: number,
  ) {
    this.pos = start;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  protected where(): string {
    return `${this.label} at byte ${this.opStart}`;
  }

  protected fail(what: string): never {
    throw new PthError(`${this.where()}: malformed pickle: ${what}`);
  }

  protected refuse(what: string, refused: string): never {
    throw new PickleRefusedError(`${this.where()}: refusing to load: the file uses ${what}`, refused);
  }

  /** Advances past `n` bytes and returns where they start. */
  protected take(n: number, what: string): number {
    if (!Number.isSafeInteger(n) || n < 0) this.fail(`${what}: negative or huge length ${n}`);
    if (this.pos + n > this.bytes.length) {
      throw new PickleTruncatedError(`${this.where()}: the pickle ends inside ${what} (needs ${n} bytes); the file is truncated or corrupt`);
    }
    const at = this.pos;
    this.pos += n;
    return at;
  }
  protected u8(): number {
    return this.bytes[this.take(1, "an opcode or its argument")];
  }
  protected u64(what: string): number {
    const v = this.view.getBigUint64(this.take(8, what), true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) this.fail(`${what} ${v} is too large`);
    return Number(v);
  }
  protected bytesOf(n: number): Uint8Array {
    const at = this.take(n, "a bytes object");
    return this.bytes.slice(at, at + n);
  }
  protected utf8(n: number): string {
    const at = this.take(n, "a string");
    try {
      return new TextDecoder("utf-8", { fatal: true }).decode(this.bytes.subarray(at, at + n));
    } catch {
      return this.fail("a string that is not valid UTF-8");
    }
  }
  protected latin1(n: number): string {
    const at = this.take(n, "a string");
    return latin1(this.bytes.subarray(at, at + n));
  }
  /** A text argument up to "\n" (protocol 0 opcodes), without the newline. */
  protected line(): string {
    const end = this.bytes.indexOf(0x0a, this.pos);
    if (end < 0) throw new PickleTruncatedError(`${this.where()}: the pickle ends inside a text argument; the file is truncated or corrupt`);
    const text = latin1(this.bytes.subarray(this.pos, end));
    this.pos = end + 1;
    return text;
  }
  protected textInt(): number | bigint | boolean {
    const text = this.line();
    if (text === "01") return true;
    if (text === "00") return false;
    return this.parseDecimal(text);
  }
  protected textLong(): number | bigint {
    return this.parseDecimal(this.line().replace(/L$/, ""));
  }
  protected textIndex(): number {
    const v = this.parseDecimal(this.line());
    if (typeof v !== "number" || v < 0) this.fail(`memo index ${v}`);
    return v;
  }
  protected parseDecimal(text: string): number | bigint {
    if (!/^[+-]?\d{1,4096}$/.test(text)) this.fail(`integer ${JSON.stringify(text.slice(0, 40))}`);
    return narrow(BigInt(text));
  }
  protected textFloat(): number {
    const text = this.line();
    if (/^[+-]?inf$/i.test(text)) return text.startsWith("-") ? -Infinity : Infinity; // Python's repr
    const v = Number(text);
    if (Number.isNaN(v) && !/^[+-]?nan$/i.test(text)) this.fail(`float ${JSON.stringify(text.slice(0, 40))}`);
    return v;
  }
  /** Two's complement little-endian integer of n bytes (LONG1, LONG4). */
  protected binaryLong(n: number): number | bigint {
    if (n < 0) this.fail(`LONG length ${n}`);
    if (n > MAX_LONG_BYTES) this.refuse(`an integer of ${n} bytes (at most ${MAX_LONG_BYTES})`, "LONG4");
    const at = this.take(n, "an integer");
    if (n === 0) return 0;
    let v = 0n;
    for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(this.bytes[at + i]);
    if (this.bytes[at + n - 1] & 0x80) v -= 1n << BigInt(8 * n);
    return narrow(v);
  }
  /** UNICODE: a line of Python's raw-unicode-escape text. */
  protected rawUnicodeLine(): string {
    const text = this.line();
    try {
      return rawUnicodeEscape(text);
    } catch {
      return this.fail("UNICODE argument with an escape beyond U+10FFFF");
    }
  }
  /** STRING: a Python 2 str literal in quotes, with backslash escapes. */
  protected quotedString(): string {
    const text = this.line();
    const quote = text[0];
    if (text.length < 2 || (quote !== "'" && quote !== '"') || text[text.length - 1] !== quote) this.fail("STRING argument is not quoted");
    return text
      .slice(1, -1)
      .replace(/\\(x[0-9a-fA-F]{2}|[0-7]{1,3}|.)/g, (_m, e: string) =>
        e[0] === "x" && e.length === 3 ? String.fromCharCode(parseInt(e.slice(1), 16))
        : /^[0-7]/.test(e) ? String.fromCharCode(parseInt(e, 8))
        : ({ n: "\n", t: "\t", r: "\r", "0": "\0", a: "\x07", b: "\b", f: "\f", v: "\v" } as Record<string, string>)[e] ?? e,
      );
  }
}

/** Python's raw-unicode-escape: latin-1 text with \uXXXX and \UXXXXXXXX escapes. */
function rawUnicodeEscape(text: string): string {
  return text.replace(/\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g, (_m, u?: string, U?: string) =>
    String.fromCodePoint(parseInt((u ?? U)!, 16)),
  );
}

/** Bytes as code points 0-255 (TextDecoder's "latin1" is windows-1252, which differs at 0x80-0x9f). */
function latin1(bytes: Uint8Array): string {
  let text = "";
  for (let i = 0; i < bytes.length; i += 8192) text += String.fromCharCode(...bytes.subarray(i, i + 8192));
  return text;
}

/** Ints that fit a double exactly become numbers; others stay bigint. */
function narrow(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}
