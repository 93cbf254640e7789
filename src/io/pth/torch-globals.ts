// What a torch checkpoint's pickle may name, and what each allowed name builds. The allow-list holds
// the tensor rebuild functions `torch.save` emits, the storage classes that name element types, and
// plain containers (OrderedDict, set, torch.Size, protocol-2 bytes). Every handler here is written in
// this project and only builds data; nothing the file names is ever executed.
//
// `unknownGlobals: "stub"` turns other globals into inert PickleObject records, for training
// checkpoints whose extra entries pickle classes (e.g. Lightning's `hyper_parameters` holding omegaconf
// objects). Even then, names that only an attack would use (os, subprocess, builtins.eval, ...) are
// refused, so a hostile file fails loudly in both modes.

import { PthError } from "./errors.js";
import { PickleGlobal, PickleObject, describePickleValue, isTuple, type PickleKey, type PickleValue } from "./pickle-values.js";
import { STORAGE_TYPES, TorchStorage, TorchTensor, type StorageBytes, type StorageType } from "./torch-tensor.js";
import type { GlobalHandler, GlobalResolution, UnpicklerOptions } from "./unpickler.js";

export type UnknownGlobals = "refuse" | "stub";

/** Opens the bytes of storage `key` (the file layer knows where they are); throws when absent. */
export type StorageOpener = (key: string, type: StorageType, numel: number, where: string) => StorageBytes;

/** Modules whose every name is refused, stubs or not: a checkpoint has no business naming them. */
const DENIED_MODULES = new Set([
  "os", "posix", "nt", "subprocess", "sys", "shutil", "socket", "importlib", "runpy", "pty", "ctypes", "code",
  "codeop", "pickle", "_pickle", "marshal", "webbrowser", "multiprocessing", "asyncio", "signal", "pdb",
  "commands", "popen2", "operator", "functools", "io", "_io", "tempfile", "glob", "urllib", "http", "ftplib",
  "smtplib", "requests", "pip", "setuptools", "distutils", "timeit", "cProfile", "profile", "trace", "types",
]);
const DENIED_TORCH = ["torch.load", "torch.hub", "torch.jit", "torch._C", "torch.ops", "torch.classes", "torch.utils.cpp_extension", "torch.package"];
/** The only builtins a stub may name: types, which pickles name as values (e.g. omegaconf metadata). */
const STUB_BUILTINS = new Set([
  "dict", "list", "tuple", "set", "frozenset", "int", "float", "complex", "str", "bytes", "bytearray", "bool",
  "object", "type", "slice", "range", "NoneType",
]);

export function torchUnpicklerOptions(label: string, unknownGlobals: UnknownGlobals, openStorage: StorageOpener): UnpicklerOptions {
  const storages = new Map<string, TorchStorage>();
  return {
    label,
    resolveGlobal: (module, name) => resolveTorchGlobal(module, name, unknownGlobals),
    persistentLoad: (pid, where) => loadStorage(pid, where, storages, openStorage, label),
  };
}

export function resolveTorchGlobal(module: string, name: string, unknownGlobals: UnknownGlobals): GlobalResolution {
  const qualified = `${module}.${name}`;
  const allowed = ALLOWED.get(qualified);
  if (allowed !== undefined) return allowed;
  if (module === "torch" && STORAGE_TYPES.has(name)) return TOKEN;
  if (isDenied(module, name)) return { refuse: "a checkpoint has no use for it, so the file is probably hostile" };
  if (unknownGlobals === "refuse") {
    return { refuse: `if the file comes from a source you trust, unknownGlobals "stub" reads such objects as inert records` };
  }
  if (qualified === "copyreg._reconstructor" || qualified === "copy_reg._reconstructor") return RECONSTRUCTOR;
  return "stub";
}

function isDenied(module: string, name: string): boolean {
  const root = module.split(".")[0];
  if (DENIED_MODULES.has(root)) return true;
  if ((root === "builtins" || root === "__builtin__") && !STUB_BUILTINS.has(name)) return true;
  const qualified = `${module}.${name}`;
  return DENIED_TORCH.some((p) => qualified === p || qualified.startsWith(`${p}.`));
}

/** A type name that may appear as a value but never be called (storage classes, torch.Tensor). */
const TOKEN: GlobalHandler = {};

const ALLOWED = new Map<string, GlobalHandler>([
  ["collections.OrderedDict", { call: (args) => dictFrom(args) }],
  ["torch._utils._rebuild_tensor_v2", { call: (args, where) => rebuildTensor(args, where, 6) }],
  ["torch._utils._rebuild_tensor", { call: (args, where) => rebuildTensor(args, where, 4) }],
  // Parameters are tensors with requires_grad; the flag and the (empty) hook dict do not matter here
  ["torch._utils._rebuild_parameter", { call: (args, where) => tensorArg(args, 0, where) }],
  ["torch._utils._rebuild_parameter_with_state", { call: (args, where) => tensorArg(args, 0, where) }],
  ["torch._tensor._rebuild_from_type_v2", { call: (args, where) => rebuildFromType(args, where) }],
  ["torch.Tensor", TOKEN],
  ["torch.nn.parameter.Parameter", TOKEN],
  ["torch.Size", { call: (args, where) => Object.freeze([...sequenceArg(args, where, "torch.Size")]) }],
  // protocol 2 writes Python 3 bytes as _codecs.encode(text, "latin1")
  ["_codecs.encode", { call: (args, where) => latin1Bytes(args, where) }],
  // protocols 0-2 name builtins by their Python 2 module, __builtin__
  ...["builtins", "__builtin__"].flatMap((m): [string, GlobalHandler][] => [
    [`${m}.set`, { call: (args, where) => new Set(sequenceArg(args, where, "set") as PickleKey[]) }],
    [`${m}.frozenset`, { call: (args, where) => new Set(sequenceArg(args, where, "frozenset") as PickleKey[]) }],
    [`${m}.bytearray`, { call: (args, where) => bytearrayOf(args, where) }],
  ]),
]);

const RECONSTRUCTOR: GlobalHandler = {
  // copyreg._reconstructor(cls, base, state): protocol 0-1 style object creation; an inert record here
  call: (args, where) => {
    const cls = args[0];
    if (!(cls instanceof PickleGlobal)) throw new PthError(`${where}: copyreg._reconstructor of a ${describePickleValue(cls)}`);
    const object = new PickleObject(cls, []);
    object.state = args[2] ?? null;
    return object;
  },
};

function dictFrom(args: readonly PickleValue[]): Map<PickleKey, PickleValue> {
  const dict = new Map<PickleKey, PickleValue>();
  const items = args[0];
  if (Array.isArray(items)) {
    for (const pair of items) if (Array.isArray(pair) && pair.length === 2) dict.set(pair[0] as PickleKey, pair[1]);
  }
  return dict;
}

function rebuildTensor(args: readonly PickleValue[], where: string, minArgs: number): TorchTensor {
  if (args.length < minArgs) throw new PthError(`${where}: tensor rebuild with ${args.length} arguments (needs ${minArgs})`);
  const [storage, offset, size, stride] = args;
  if (!(storage instanceof TorchStorage)) throw new PthError(`${where}: tensor rebuild from a ${describePickleValue(storage)}, not a storage`);
  if (typeof offset !== "number") throw new PthError(`${where}: tensor storage offset is a ${describePickleValue(offset)}`);
  return new TorchTensor(storage, offset, intTuple(size, where, "sizes"), intTuple(stride, where, "strides"), where);
}

function rebuildFromType(args: readonly PickleValue[], where: string): PickleValue {
  const [func, type, funcArgs] = args;
  if (!(func instanceof PickleGlobal) || !(type instanceof PickleGlobal) || !isTuple(funcArgs)) {
    throw new PthError(`${where}: _rebuild_from_type_v2 needs (function, type, args, state)`);
  }
  if (type.qualifiedName !== "torch.Tensor" && type.qualifiedName !== "torch.nn.parameter.Parameter") {
    throw new PthError(`${where}: tensor subclass ${type.qualifiedName} is not supported (plain tensors and parameters are)`);
  }
  const handler = ALLOWED.get(func.qualifiedName);
  if (handler?.call === undefined || !func.qualifiedName.startsWith("torch._utils._rebuild_")) {
    throw new PthError(`${where}: _rebuild_from_type_v2 with ${func.qualifiedName}, which is not a tensor rebuild function`);
  }
  return handler.call(funcArgs, where);
}

function tensorArg(args: readonly PickleValue[], index: number, where: string): TorchTensor {
  const t = args[index];
  if (!(t instanceof TorchTensor)) throw new PthError(`${where}: expected a tensor, got a ${describePickleValue(t)}`);
  return t;
}

function intTuple(v: PickleValue | undefined, where: string, what: string): number[] {
  if (!Array.isArray(v) || !v.every((d) => typeof d === "number" && Number.isSafeInteger(d))) {
    throw new PthError(`${where}: tensor ${what} are a ${describePickleValue(v)}, not a tuple of ints`);
  }
  return v as number[];
}

function sequenceArg(args: readonly PickleValue[], where: string, what: string): readonly PickleValue[] {
  const v = args.length === 0 ? [] : args[0];
  if (Array.isArray(v)) return v;
  if (v instanceof Set) return [...v] as PickleValue[];
  throw new PthError(`${where}: ${what} of a ${describePickleValue(v)}`);
}

function bytearrayOf(args: readonly PickleValue[], where: string): Uint8Array {
  if (args.length === 0) return new Uint8Array(0);
  if (args[0] instanceof Uint8Array) return args[0].slice();
  return latin1Bytes(args, where);
}

function latin1Bytes(args: readonly PickleValue[], where: string): Uint8Array {
  const [text, encoding] = args;
  if (typeof text !== "string" || (encoding !== "latin1" && encoding !== "latin-1")) {
    throw new PthError(`${where}: bytes must be encoded as (str, "latin1"), got (${describePickleValue(text)}, ${String(encoding)})`);
  }
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 255) throw new PthError(`${where}: latin1 bytes hold the character U+${c.toString(16)}`);
    out[i] = c;
  }
  return out;
}

function loadStorage(
  pid: PickleValue,
  where: string,
  storages: Map<string, TorchStorage>,
  openStorage: StorageOpener,
  label: string,
): TorchStorage {
  // ('storage', torch.<T>Storage, key, location, numel[, view_metadata]); view_metadata only in the legacy format
  if (!isTuple(pid) || pid[0] !== "storage" || pid.length < 5 || pid.length > 6) {
    throw new PthError(`${where}: persistent id ${describePickleValue(pid)} is not a torch storage reference`);
  }
  const [, typeToken, rawKey, location, numel] = pid;
  const view = pid[5] ?? null;
  const type = typeToken instanceof PickleGlobal && typeToken.module === "torch" ? STORAGE_TYPES.get(typeToken.name) : undefined;
  if (type === undefined) throw new PthError(`${where}: storage type ${describePickleValue(typeToken)} is not a torch storage class`);
  if ((typeof rawKey !== "string" && typeof rawKey !== "number") || typeof location !== "string" || typeof numel !== "number" || numel < 0) {
    throw new PthError(`${where}: malformed storage reference (key, location, numel)`);
  }
  const key = String(rawKey);
  let storage = storages.get(key);
  if (storage === undefined) {
    storage = new TorchStorage(key, type, numel, location, openStorage(key, type, numel, where), label);
    storages.set(key, storage);
  } else if (storage.type !== type) {
    // torch >= 2 keeps one untyped storage per key; two dtypes over one storage is legal there, but rare
    storage = new TorchStorage(key, type, Math.floor(storage.bytes.byteLength / type.itemSize), location, storage.bytes, label);
  }
  if (view === null) return storage;
  // legacy storage view: (view_key, offset, view_size) into the root storage, in elements
  if (!isTuple(view) || view.length !== 3 || typeof view[1] !== "number" || typeof view[2] !== "number") {
    throw new PthError(`${where}: malformed storage view metadata`);
  }
  const [, viewOffset, viewSize] = view as [PickleValue, number, number];
  if (viewOffset < 0 || viewSize < 0 || viewOffset + viewSize > storage.numel) throw new PthError(`${where}: storage view lies outside storage ${key}`);
  const root = storage.bytes;
  const start = viewOffset * type.itemSize;
  const bytes: StorageBytes = { byteLength: viewSize * type.itemSize, read: (o, n) => root.read(start + o, n) };
  return new TorchStorage(String(view[0]), type, viewSize, location, bytes, label);
}
