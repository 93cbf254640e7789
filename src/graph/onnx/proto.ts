// The official onnx.proto schema (vendored from the ONNX project, Apache-2.0) loaded with protobufjs,
// so ModelProto bytes are produced by a maintained protobuf implementation, never by hand.

import protobuf from "protobufjs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

let root: protobuf.Root | null = null;

function schema(): protobuf.Root {
  root ??= protobuf.loadSync(join(dirname(fileURLToPath(import.meta.url)), "onnx.proto"));
  return root;
}

export function onnxType(name: "ModelProto" | "TensorProto" | "GraphProto"): protobuf.Type {
  return schema().lookupType(`onnx.${name}`);
}

/** AttributeProto.AttributeType */
export const ATTR_TYPE = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, FLOATS: 6, INTS: 7 } as const;
/** IR version of the vendored schema (onnx.proto Version.IR_VERSION). */
export const IR_VERSION = 8;
