// `vidrd convert <in> <out-dir>`: any weights vidrd reads (diffusers folder, safetensors, torch
// checkpoint, the authors' Lightning ModelT2V.pth) -> a clean folder: model.safetensors + config.json.
// The folder appears whole or not at all: it is built under a temporary name beside <out-dir> and
// renamed at the end; any failure removes it and prints one line.

import { chmodSync, existsSync, mkdtempSync, readdirSync, renameSync, rmSync, rmdirSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { writeSafetensors } from "../io/index.js";
import { formatBytes } from "./format.js";
import { ITEM_SIZE, type DType } from "../tensor/tensor.js";
import {
  MODEL_PARTS,
  conversionNotes,
  isModelPart,
  knownPartConfig,
  openWeights,
  type ModelPart,
  type OpenedWeights,
} from "../models/weights/index.js";

const USAGE = `Usage: vidrd convert <in> <out-dir> [options]

Reads model weights and writes <out-dir>/model.safetensors and <out-dir>/config.json.
<in>: a diffusers folder (config.json + diffusion_pytorch_model.safetensors or .bin), a safetensors file,
a torch checkpoint (.pth/.bin/.ckpt) holding a state dict, or a Lightning checkpoint (ModelT2V.pth).

Options:
  --part unet|text_encoder|vae  the model to take from a Lightning checkpoint (keys "<part>.*") or an SD folder
  --prefix P                    take the tensors named P* and strip P (overrides --part's prefix)
  --dtype float32|float16       convert float tensors (default: as stored; bfloat16/float64 become float32)
  --stub-unknown-globals        read classes outside the checkpoint allow-list as inert records
                                (for trusted training checkpoints that pickle config objects)
  -h, --help                    show this help
`;

interface ConvertIO {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}

const processIO: ConvertIO = { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t) };

class UsageError extends Error {}

/** Runs the command; returns the exit code (0 done, 1 the input or output failed, 2 usage). */
export function runConvert(argv: readonly string[], io: ConvertIO = processIO): number {
  try {
    const { values, positionals } = parseArgs({
      args: [...argv],
      options: {
        part: { type: "string" },
        prefix: { type: "string" },
        dtype: { type: "string" },
        "stub-unknown-globals": { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      allowPositionals: true,
      strict: true,
    });
    if (values.help) {
      io.stdout(USAGE);
      return 0;
    }
    if (positionals.length !== 2) throw new UsageError(`needs <in> and <out-dir>, got ${positionals.length} argument${positionals.length === 1 ? "" : "s"}`);
    const part = values.part;
    if (part !== undefined && !isModelPart(part)) throw new UsageError(`--part is "${part}"; allowed: ${MODEL_PARTS.join(", ")}`);
    const dtype = values.dtype;
    if (dtype !== undefined && dtype !== "float32" && dtype !== "float16") throw new UsageError(`--dtype is "${dtype}"; allowed: float32, float16`);
    convert(positionals[0], positionals[1], {
      part,
      prefix: values.prefix,
      dtype,
      unknownGlobals: values["stub-unknown-globals"] ? "stub" : "refuse",
    }, io);
    return 0;
  } catch (e) {
    const usage = e instanceof UsageError || (e as { code?: string }).code?.startsWith("ERR_PARSE_ARGS");
    const message = (e as Error).message.split("\n")[0].replace(`unknownGlobals "stub"`, "--stub-unknown-globals");
    io.stderr(`vidrd convert: ${message}${usage ? "; see vidrd convert --help" : ""}\n`);
    return usage ? 2 : 1;
  }
}

interface ConvertOptions {
  readonly part: ModelPart | undefined;
  readonly prefix: string | undefined;
  readonly dtype: "float32" | "float16" | undefined;
  readonly unknownGlobals: "refuse" | "stub";
}

function convert(input: string, outDir: string, options: ConvertOptions, io: ConvertIO): void {
  const out = resolve(outDir);
  if (!existsSync(dirname(out))) throw new Error(`the folder ${dirname(outDir)} (where ${basename(outDir)} would go) does not exist`);
  if (existsSync(out) && (!statSync(out).isDirectory() || readdirSync(out).length > 0)) {
    throw new Error(`${outDir} already exists and is not an empty folder; choose a new output folder`);
  }
  const opened = openWeights(input, options);
  const weights = opened.stateDict;
  let staging: string | null = null;
  try {
    const part = options.part ?? partFromPrefix(options.prefix) ?? opened.part;
    if (opened.layout === "lightning" && options.part === undefined && options.prefix === undefined) {
      const parts = [...weights.prefixCounts()].map(([p, n]) => `${p} (${n} tensors)`).join(", ");
      throw new Error(`${input} is a Lightning checkpoint holding ${parts}; choose one with --part (or --prefix "" to keep every name)`);
    }
    if (weights.size === 0) throw new Error(`${input}: no tensors to convert`);
    const unreadable = [...weights.entries()].filter(([, e]) => e.dtype === null);
    if (unreadable.length > 0) {
      const [name, entry] = unreadable[0];
      throw new Error(`${input}: ${unreadable.length} tensor(s) have dtypes vidrd cannot hold, e.g. ${name} (${entry.storedDType})`);
    }
    const config = opened.config ?? (part !== null ? knownPartConfig(part, weights) : null);

    staging = mkdtempSync(join(dirname(out), `.${basename(out)}.partial-`));
    const tensors = weights.readAll();
    writeSafetensors(join(staging, "model.safetensors"), tensors, { format: "pt" });
    if (config !== null) writeFileSync(join(staging, "config.json"), `${JSON.stringify(config, null, 2)}\n`);
    chmodSync(staging, 0o755); // mkdtemp makes it private; the result is an ordinary folder
    if (existsSync(out)) rmdirSync(out); // empty, checked above
    renameSync(staging, out);
    staging = null;
    io.stdout(summary(input, outDir, opened, part, config !== null));
  } finally {
    weights.close();
    if (staging !== null) rmSync(staging, { recursive: true, force: true });
  }
}

function partFromPrefix(prefix: string | undefined): ModelPart | null {
  const head = prefix?.replace(/\.$/, "");
  return isModelPart(head) ? head : null;
}

function summary(input: string, outDir: string, opened: OpenedWeights, part: ModelPart | null, wroteConfig: boolean): string {
  const weights = opened.stateDict;
  const byDType = new Map<DType, number>();
  let bytes = 0;
  for (const [, e] of weights.entries()) {
    const dtype = e.dtype!;
    byDType.set(dtype, (byDType.get(dtype) ?? 0) + 1);
    bytes += e.shape.reduce((a, d) => a * d, 1) * ITEM_SIZE[dtype];
  }
  const info = Object.entries(opened.checkpointInfo).map(([k, v]) => `${k} ${v}`);
  const dtypes = [...byDType].map(([d, n]) => `${n} ${d}`).join(", ");
  const lines = [
    `converted ${input} (${[opened.layout, ...(part !== null ? [part] : []), ...info].join(", ")})`,
    `wrote ${join(outDir, "model.safetensors")}: ${weights.size} tensors (${dtypes}), ${weights.parameterCount().toLocaleString("en-US")} parameters, ${formatBytes(bytes)}`,
    wroteConfig ? `wrote ${join(outDir, "config.json")}${opened.config !== null ? " (from the input)" : ` (the known ${part} config)`}` : "no config.json: the input has none and no --part says which model it is",
    ...conversionNotes(weights).map((n) => `note: ${n}`),
  ];
  return `${lines.join("\n")}\n`;
}

