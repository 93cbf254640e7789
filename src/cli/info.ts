// `vidrd info <model>`: what a model folder (or a weights file / part folder) holds, from modelInfo.

import { parseArgs } from "node:util";
import { modelInfo, type ModelFolderInfo, type PartInfo, type WeightsInfo, type WeightsSummary } from "../app/index.js";
import { UsageError, processIO, reportFailure, type CommandIO } from "./command.js";
import { formatBytes, formatCount } from "./format.js";

export const INFO_USAGE = `Usage: vidrd info <model> [--json]

Describes a model without running it: for a model folder (unet/, vae/, text_encoder/, tokenizer/,
scheduler/), each network's key config fields and weights (file, tensors, parameters, bytes by dtype),
the tokenizer's vocabulary, the scheduler, the clip length, fps and default frame size. For a single
weights file (safetensors, torch) or a part folder (config.json + weights), its tensors and parameters.

Options:
  --json       print one JSON object instead of text
  -h, --help   show this help
`;

function weightsLines(w: WeightsSummary, indent: string): string[] {
  const dtypes = Object.entries(w.dtypes)
    .map(([dtype, c]) => `${formatCount(c.tensors)} ${dtype}`)
    .join(", ");
  return [
    `${indent}weights: ${w.weightsFile} (${w.layout})`,
    `${indent}${formatCount(w.tensors)} tensors (${dtypes || "none"}), ${formatCount(w.parameters)} parameters, ${formatBytes(w.bytes)}`,
  ];
}

function configLine(config: Record<string, unknown>, indent: string): string {
  const fields = Object.entries(config).map(([k, v]) => `${k} ${Array.isArray(v) ? `[${v.join(", ")}]` : String(v)}`);
  return `${indent}config: ${fields.join(", ")}`;
}

function folderText(info: ModelFolderInfo): string {
  const lines = [
    `model ${info.path}`,
    `  clips of ${info.clipFrames} frames at ${info.fps} fps, default size ${info.defaultSize}x${info.defaultSize} pixels, ` +
      `latents ${info.latentChannels} channels at 1/${info.spatialFactor} size`,
  ];
  for (const [part, p] of Object.entries(info.parts) as [string, PartInfo][]) {
    lines.push(`${part}:`, configLine(p.config, "  "), ...weightsLines(p, "  "));
  }
  const s = info.scheduler;
  lines.push(
    `tokenizer: ${formatCount(info.tokenizer.vocabSize)} ids`,
    `scheduler: ${s.name}, ${s.trainTimesteps} train timesteps, ${s.betaSchedule} betas ${s.betaStart}..${s.betaEnd}, ` +
      `${s.spacing} spacing (offset ${s.stepsOffset}), ${s.prediction} prediction`,
    `total: ${formatCount(info.parameters)} parameters, ${formatBytes(info.bytes)}`,
  );
  return `${lines.join("\n")}\n`;
}

function weightsText(info: WeightsInfo): string {
  const lines = [`weights ${info.path}${info.part !== null ? ` (${info.part})` : ""}`];
  if (info.config !== null) lines.push(configLine(info.config, "  "));
  if (info.configProblem !== null) lines.push(`  config: not read: ${info.configProblem.split("\n")[0]}`);
  lines.push(...weightsLines(info, "  "));
  return `${lines.join("\n")}\n`;
}

export async function runInfo(argv: readonly string[], io: CommandIO = processIO): Promise<number> {
  try {
    const { values, positionals } = parseArgs({
      args: [...argv],
      options: { json: { type: "boolean" }, help: { type: "boolean", short: "h" } },
      allowPositionals: true,
      strict: true,
    });
    if (values.help) {
      io.stdout(INFO_USAGE);
      return 0;
    }
    if (positionals.length !== 1) throw new UsageError(`needs one <model> (a folder or weights file), got ${positionals.length} arguments`);
    const info = await modelInfo(positionals[0]!);
    if (values.json) io.stdout(`${JSON.stringify(info)}\n`);
    else io.stdout(info.kind === "model" ? folderText(info) : weightsText(info));
    return 0;
  } catch (e) {
    return reportFailure("info", e, io, "<model>");
  }
}
