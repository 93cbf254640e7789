// What the restricted unpickler produces: plain JS values for Python's plain values, plus a few inert
// records. Python -> JS: None -> null, bool -> boolean, int -> number (bigint beyond 2^53), float ->
// number, str -> string, bytes/bytearray -> Uint8Array, list -> array, tuple -> frozen array, dict and
// OrderedDict -> Map (insertion order kept), set/frozenset -> Set. Tensors are host objects made by the
// torch layer (torch-tensor.ts).

/** A value some allow-listed global built (a tensor, a storage reference); opaque to the unpickler. */
export interface PickleHostObject {
  readonly pickleKind: string;
}

export type PickleKey = string | number | bigint | boolean | null | readonly PickleValue[];

export type PickleValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | PickleValue[]
  | readonly PickleValue[]
  | Map<PickleKey, PickleValue>
  | Set<PickleKey>
  | PickleGlobal
  | PickleObject
  | PickleHostObject;

/** A Python global (`module.name`) as the pickle named it: a class or function token, never called. */
export class PickleGlobal implements PickleHostObject {
  readonly pickleKind = "global";
  constructor(
    readonly module: string,
    readonly name: string,
  ) {
    Object.freeze(this);
  }
  get qualifiedName(): string {
    return `${this.module}.${this.name}`;
  }
}

/**
 * An inert record of an object of a class outside the allow-list, built only when the caller asked for
 * stubs (`unknownGlobals: "stub"`): the class name, the arguments it would have been called with, and
 * the state `BUILD` would have set. Nothing of the class runs; its data is kept for inspection.
 */
export class PickleObject implements PickleHostObject {
  readonly pickleKind = "object";
  state: PickleValue | undefined = undefined;
  /** Items appended (list subclasses) or set (dict subclasses) after construction. */
  readonly items: PickleValue[] = [];
  readonly entries = new Map<PickleKey, PickleValue>();
  constructor(
    readonly type: PickleGlobal,
    readonly args: readonly PickleValue[],
    readonly kwargs?: Map<PickleKey, PickleValue>,
  ) {}
}

/** Attributes that BUILD set on a dict (e.g. the `_metadata` torch attaches to a state dict's OrderedDict). */
export const dictAttributes = new WeakMap<Map<PickleKey, PickleValue>, PickleValue>();

export function isTuple(v: unknown): v is readonly PickleValue[] {
  return Array.isArray(v) && Object.isFrozen(v);
}

/** A short description of a value's kind for error messages: "str", "tuple of 3", "torch tensor", ... */
export function describePickleValue(v: unknown): string {
  if (v === null) return "None";
  if (typeof v === "boolean") return "bool";
  if (typeof v === "number") return Number.isInteger(v) ? "int" : "float";
  if (typeof v === "bigint") return "int";
  if (typeof v === "string") return "str";
  if (v instanceof Uint8Array) return "bytes";
  if (Array.isArray(v)) return `${isTuple(v) ? "tuple" : "list"} of ${v.length}`;
  if (v instanceof Map) return `dict of ${v.size}`;
  if (v instanceof Set) return "set";
  if (v instanceof PickleGlobal) return `global ${v.qualifiedName}`;
  if (v instanceof PickleObject) return `object of ${v.type.qualifiedName}`;
  if (typeof v === "object" && "pickleKind" in v) return String((v as PickleHostObject).pickleKind);
  return typeof v;
}
