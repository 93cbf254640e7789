// A restricted unpickler: it reads Python pickle streams (protocols 0-5 data opcodes; torch.save writes
// protocol 2) into plain JS values and EXECUTES NOTHING. Python's pickle is a small stack machine whose
// GLOBAL + REDUCE opcodes import and call any function; here a global is only a name, resolved through
// the caller's allow-list before anything is built from it: an allowed global maps to a handler written
// in this project (e.g. torch's tensor rebuild), any other is refused (or, when asked, kept as an inert
// record), and opcodes that instantiate classes by other routes (INST, OBJ, EXT*) or need out-of-band
// buffers are refused, as is every unknown opcode byte.
//
// Why not the `pickleparser` package: it resolves unknown globals to callable stand-ins by default, calls
// whatever a REDUCE finds on the stack, copies BUILD state onto objects with Object.assign (a "__proto__"
// key in the file reaches the prototype), and has no way to refuse an opcode. Its resolver could refuse
// names, but the rest would still need patching; a small machine of our own is easier to audit.

import { PthError } from "./errors.js";
import { PickleCursor, PickleTruncatedError } from "./pickle-cursor.js";
import { OPCODE_NAMES } from "./pickle-opcodes.js";
import {
  PickleGlobal,
  PickleObject,
  describePickleValue,
  dictAttributes,
  isTuple,
  type PickleKey,
  type PickleValue,
} from "./pickle-values.js";

export interface GlobalHandler {
  /** What calling the global with `args` gives (REDUCE, NEWOBJ). Absent: the global is a token only. */
  readonly call?: (args: readonly PickleValue[], where: string) => PickleValue;
}

/** A handler for an allowed global; "stub" for an inert PickleObject record; refuse (with why) to stop. */
export type GlobalResolution = GlobalHandler | "stub" | { readonly refuse: string };

export interface UnpicklerOptions {
  /** Names the stream in errors (a file path, or "archive/data.pkl in x.pth"). */
  readonly label?: string;
  readonly resolveGlobal: (module: string, name: string) => GlobalResolution;
  /** Turns a persistent id (torch: a storage reference tuple) into a value; absent: refused. */
  readonly persistentLoad?: (pid: PickleValue, where: string) => PickleValue;
  /** Byte offset where the pickle starts (a legacy torch file holds several in a row). */
  readonly start?: number;
}

export interface UnpickleResult {
  readonly value: PickleValue;
  /** Offset of the byte after STOP. */
  readonly end: number;
}

export { PickleTruncatedError };

const HIGHEST_PROTOCOL = 5;

export function unpickle(bytes: Uint8Array, options: UnpicklerOptions): UnpickleResult {
  return new Machine(bytes, options).run();
}

class Machine extends PickleCursor {
  private stack: PickleValue[] = [];
  private readonly marks: PickleValue[][] = [];
  private readonly memo = new Map<number, PickleValue>();
  private readonly handlers = new Map<PickleGlobal, GlobalHandler | "stub">();

  constructor(
    bytes: Uint8Array,
    private readonly options: UnpicklerOptions,
  ) {
    super(bytes, options.label ?? "<pickle>", options.start ?? 0);
  }

  run(): UnpickleResult {
    for (;;) {
      this.opStart = this.pos;
      const op = this.u8();
      switch (op) {
        case 0x80: { // PROTO
          const protocol = this.u8();
          if (protocol > HIGHEST_PROTOCOL) this.refuse(`pickle protocol ${protocol} (supported: 0 to ${HIGHEST_PROTOCOL})`, `PROTO ${protocol}`);
          break;
        }
        case 0x95: { // FRAME: the next n bytes hold whole opcodes; framing only, nothing to do but check
          const n = this.u64("FRAME length");
          if (this.pos + n > this.bytes.length) throw new PickleTruncatedError(`${this.where()}: a frame of ${n} bytes runs past the end; the file is truncated or corrupt`);
          break;
        }
        case 0x2e: { // STOP
          if (this.stack.length === 0) this.fail("STOP with an empty stack");
          return { value: this.stack.pop()!, end: this.pos };
        }
        case 0x28: this.marks.push(this.stack); this.stack = []; break; // MARK
        case 0x30: this.pop(); break; // POP
        case 0x31: this.popMark(); break; // POP_MARK
        case 0x32: this.push(this.top()); break; // DUP
        case 0x4e: this.push(null); break; // NONE
        case 0x88: this.push(true); break; // NEWTRUE
        case 0x89: this.push(false); break; // NEWFALSE
        case 0x4a: this.push(this.view.getInt32(this.take(4, "BININT"), true)); break;
        case 0x4b: this.push(this.u8()); break; // BININT1
        case 0x4d: this.push(this.view.getUint16(this.take(2, "BININT2"), true)); break;
        case 0x49: this.push(this.textInt()); break; // INT
        case 0x4c: this.push(this.textLong()); break; // LONG
        case 0x8a: this.push(this.binaryLong(this.u8())); break; // LONG1
        case 0x8b: this.push(this.binaryLong(this.view.getInt32(this.take(4, "LONG4 length"), true))); break;
        case 0x46: this.push(this.textFloat()); break; // FLOAT
        case 0x47: this.push(this.view.getFloat64(this.take(8, "BINFLOAT"), false)); break; // big-endian
        case 0x58: this.push(this.utf8(this.view.getUint32(this.take(4, "BINUNICODE length"), true))); break;
        case 0x8c: this.push(this.utf8(this.u8())); break; // SHORT_BINUNICODE
        case 0x8d: this.push(this.utf8(this.u64("BINUNICODE8 length"))); break;
        case 0x56: this.push(this.rawUnicodeLine()); break; // UNICODE
        case 0x53: this.push(this.quotedString()); break; // STRING (Python 2 str)
        case 0x54: this.push(this.latin1(this.view.getInt32(this.take(4, "BINSTRING length"), true))); break;
        case 0x55: this.push(this.latin1(this.u8())); break; // SHORT_BINSTRING
        case 0x42: this.push(this.bytesOf(this.view.getUint32(this.take(4, "BINBYTES length"), true))); break;
        case 0x43: this.push(this.bytesOf(this.u8())); break; // SHORT_BINBYTES
        case 0x8e: this.push(this.bytesOf(this.u64("BINBYTES8 length"))); break;
        case 0x96: this.push(this.bytesOf(this.u64("BYTEARRAY8 length"))); break;
        case 0x5d: this.push([]); break; // EMPTY_LIST
        case 0x6c: this.push(this.popMark()); break; // LIST
        case 0x61: { // APPEND
          const item = this.pop();
          this.appendTo(this.top(), [item]);
          break;
        }
        case 0x65: { // APPENDS
          const items = this.popMark();
          this.appendTo(this.top(), items);
          break;
        }
        case 0x29: this.push(Object.freeze([])); break; // EMPTY_TUPLE
        case 0x74: this.push(Object.freeze(this.popMark())); break; // TUPLE
        case 0x85: this.push(Object.freeze([this.pop()])); break; // TUPLE1
        case 0x86: { // TUPLE2
          const b = this.pop();
          this.push(Object.freeze([this.pop(), b]));
          break;
        }
        case 0x87: { // TUPLE3
          const c = this.pop();
          const b = this.pop();
          this.push(Object.freeze([this.pop(), b, c]));
          break;
        }
        case 0x7d: this.push(new Map()); break; // EMPTY_DICT
        case 0x64: { // DICT
          const items = this.popMark();
          const dict = new Map<PickleKey, PickleValue>();
          this.setItems(dict, items);
          this.push(dict);
          break;
        }
        case 0x73: { // SETITEM
          const value = this.pop();
          const key = this.pop();
          this.setItems(this.top(), [key, value]);
          break;
        }
        case 0x75: { // SETITEMS
          const items = this.popMark();
          this.setItems(this.top(), items);
          break;
        }
        case 0x8f: this.push(new Set()); break; // EMPTY_SET
        case 0x90: { // ADDITEMS
          const items = this.popMark();
          const set = this.top();
          if (!(set instanceof Set)) this.fail(`ADDITEMS on a ${describePickleValue(set)}`);
          for (const item of items) set.add(this.key(item));
          break;
        }
        case 0x91: this.push(new Set(this.popMark().map((v) => this.key(v)))); break; // FROZENSET
        case 0x67: this.push(this.memoGet(this.textIndex())); break; // GET
        case 0x68: this.push(this.memoGet(this.u8())); break; // BINGET
        case 0x6a: this.push(this.memoGet(this.view.getUint32(this.take(4, "LONG_BINGET"), true))); break;
        case 0x70: this.memo.set(this.textIndex(), this.top()); break; // PUT
        case 0x71: this.memo.set(this.u8(), this.top()); break; // BINPUT
        case 0x72: this.memo.set(this.view.getUint32(this.take(4, "LONG_BINPUT"), true), this.top()); break;
        case 0x94: this.memo.set(this.memo.size, this.top()); break; // MEMOIZE
        case 0x63: { // GLOBAL: "module\nname\n"
          const module = this.line();
          this.push(this.global(module, this.line()));
          break;
        }
        case 0x93: { // STACK_GLOBAL
          const name = this.pop();
          const module = this.pop();
          if (typeof module !== "string" || typeof name !== "string") this.fail("STACK_GLOBAL needs two strings");
          this.push(this.global(module, name));
          break;
        }
        case 0x52: { // REDUCE: callable(*args)
          const args = this.pop();
          this.push(this.call(this.pop(), args, "REDUCE"));
          break;
        }
        case 0x81: { // NEWOBJ: cls.__new__(cls, *args)
          const args = this.pop();
          this.push(this.call(this.pop(), args, "NEWOBJ"));
          break;
        }
        case 0x92: { // NEWOBJ_EX: cls.__new__(cls, *args, **kwargs)
          const kwargs = this.pop();
          const args = this.pop();
          this.push(this.call(this.pop(), args, "NEWOBJ_EX", kwargs));
          break;
        }
        case 0x62: { // BUILD: obj.__setstate__(state)
          const state = this.pop();
          this.build(this.top(), state);
          break;
        }
        case 0x50: this.push(this.persistent(this.line())); break; // PERSID
        case 0x51: this.push(this.persistent(this.pop())); break; // BINPERSID
        default: {
          const name = OPCODE_NAMES.get(op);
          if (name !== undefined) {
            this.refuse(`the pickle opcode ${name} (0x${hex(op)}), which builds objects by routes vidrd does not allow`, name);
          }
          this.refuse(`an unknown pickle opcode 0x${hex(op)}`, `0x${hex(op)}`);
        }
      }
    }
  }

  // ---- stack ----

  private push(v: PickleValue): void {
    this.stack.push(v);
  }
  private pop(): PickleValue {
    if (this.stack.length === 0) this.fail("pop from an empty stack");
    return this.stack.pop()!;
  }
  private top(): PickleValue {
    if (this.stack.length === 0) this.fail("the stack is empty");
    return this.stack[this.stack.length - 1];
  }
  private popMark(): PickleValue[] {
    const items = this.stack;
    const below = this.marks.pop();
    if (below === undefined) this.fail("no MARK to pop to");
    this.stack = below;
    return items;
  }
  private memoGet(index: number): PickleValue {
    const v = this.memo.get(index);
    if (v === undefined) this.fail(`memo entry ${index} was never stored`);
    return v;
  }

  // ---- containers ----

  private appendTo(target: PickleValue, items: PickleValue[]): void {
    const list = target instanceof PickleObject ? target.items : Array.isArray(target) && !isTuple(target) ? (target as PickleValue[]) : null;
    if (list === null) this.fail(`APPEND to a ${describePickleValue(target)}`);
    for (const item of items) list.push(item); // not push(...items): a long list would overflow the call stack
  }

  private setItems(target: PickleValue, items: PickleValue[]): void {
    if (items.length % 2 !== 0) this.fail("SETITEMS with an odd number of items");
    const dict = target instanceof PickleObject ? target.entries : target;
    if (!(dict instanceof Map)) this.fail(`SETITEM on a ${describePickleValue(target)}`);
    for (let i = 0; i < items.length; i += 2) dict.set(this.key(items[i]), items[i + 1]);
  }

  /** Python needs hashable keys; lists, dicts and sets are not. */
  private key(v: PickleValue): PickleKey {
    if (v === null || typeof v === "string" || typeof v === "number" || typeof v === "bigint" || typeof v === "boolean") return v;
    if (isTuple(v)) return v;
    this.fail(`a ${describePickleValue(v)} used as a dict key or set item (unhashable in Python)`);
  }

  // ---- globals, calls, state ----

  private global(module: string, name: string): PickleGlobal {
    const resolution = this.options.resolveGlobal(module, name);
    if (resolution !== "stub" && "refuse" in resolution) {
      this.refuse(
        `the Python global ${module}.${name}, which is not on vidrd's allow-list of tensor and container types ` +
          `(nothing was executed); ${resolution.refuse}`,
        `${module}.${name}`,
      );
    }
    const g = new PickleGlobal(module, name);
    this.handlers.set(g, resolution);
    return g;
  }

  private call(callable: PickleValue, args: PickleValue, opcode: string, kwargs?: PickleValue): PickleValue {
    if (!(callable instanceof PickleGlobal)) this.fail(`${opcode} on a ${describePickleValue(callable)}, which is not a global`);
    if (!isTuple(args)) this.fail(`${opcode} of ${callable.qualifiedName} with arguments that are a ${describePickleValue(args)}, not a tuple`);
    const handler = this.handlers.get(callable);
    if (handler === "stub") {
      if (kwargs !== undefined && !(kwargs instanceof Map)) this.fail(`NEWOBJ_EX keyword arguments are a ${describePickleValue(kwargs)}`);
      return new PickleObject(callable, args, kwargs);
    }
    if (handler?.call === undefined) {
      this.refuse(`a call of ${callable.qualifiedName}, which vidrd allows only as a type name, not as a function`, callable.qualifiedName);
    }
    if (kwargs !== undefined && !(kwargs instanceof Map && kwargs.size === 0)) {
      this.refuse(`keyword arguments to ${callable.qualifiedName}`, callable.qualifiedName);
    }
    try {
      return handler.call(args, this.where());
    } catch (e) {
      if (e instanceof PthError) throw e;
      throw new PthError(`${this.where()}: ${callable.qualifiedName}: ${(e as Error).message}`, { cause: e });
    }
  }

  private build(target: PickleValue, state: PickleValue): void {
    if (target instanceof PickleObject) target.state = state;
    else if (target instanceof Map) {
      // OrderedDict subclasses pickle their __dict__ (torch: a state dict's `_metadata`); kept aside
      if (state !== null && !(state instanceof Map) && !isTuple(state)) this.fail(`BUILD of a dict with a ${describePickleValue(state)}`);
      if (state !== null) dictAttributes.set(target, state);
    } else if (typeof target === "object" && target !== null && "setPickleState" in target) {
      (target as { setPickleState(state: PickleValue): void }).setPickleState(state);
    } else {
      this.refuse(`BUILD (setting state) on a ${describePickleValue(target)}`, "BUILD");
    }
  }

  private persistent(pid: PickleValue): PickleValue {
    if (this.options.persistentLoad === undefined) this.refuse("a persistent id, but this stream has no storage loader", "BINPERSID");
    return this.options.persistentLoad(pid, this.where());
  }
}

function hex(op: number): string {
  return op.toString(16).padStart(2, "0");
}
