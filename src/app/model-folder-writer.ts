// Writes a model folder in the layout video-model.ts reads. The folder appears whole or not at all: it is
// assembled under a temporary name beside `dir` and renamed at the end, so an interrupted export never
// leaves a folder that looks complete.

import { cpSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { writeSafetensors } from "../io/index.js";
import type { Tensor } from "../tensor/tensor.js";

export interface ModelPartFiles {
  /** The part's config.json object (diffusers / transformers field names). */
  config: Record<string, unknown>;
  weights: ReadonlyMap<string, Tensor>;
}

export interface ModelFolderContents {
  unet: ModelPartFiles;
  vae: ModelPartFiles;
  text_encoder: ModelPartFiles;
  /** A folder holding tokenizer.json, or vocab.json + merges.txt (+ tokenizer_config.json): copied. */
  tokenizerDir: string;
  /** scheduler/scheduler_config.json (diffusers field names); omitted: VidRD's DDIM defaults apply. */
  scheduler?: Record<string, unknown>;
  /** model_index.json: clip_frames, fps, and anything descriptive. */
  index?: Record<string, unknown>;
}

export function writeModelFolder(dir: string, contents: ModelFolderContents, opts: { overwrite?: boolean } = {}): void {
  const target = resolve(dir);
  if (existsSync(target) && !opts.overwrite) throw new Error(`${target} exists; pass overwrite to replace it`);
  mkdirSync(dirname(target), { recursive: true });
  const temp = join(dirname(target), `.${basename(target)}.partial-${process.pid}`);
  rmSync(temp, { recursive: true, force: true });
  try {
    mkdirSync(temp);
    for (const part of ["unet", "vae", "text_encoder"] as const) {
      const partDir = join(temp, part);
      mkdirSync(partDir);
      writeFileSync(join(partDir, "config.json"), `${JSON.stringify(contents[part].config, null, 2)}\n`);
      writeSafetensors(join(partDir, "model.safetensors"), contents[part].weights);
    }
    const tokenizer = join(temp, "tokenizer");
    mkdirSync(tokenizer);
    for (const name of readdirSync(contents.tokenizerDir)) cpSync(join(contents.tokenizerDir, name), join(tokenizer, name));
    if (contents.scheduler) {
      mkdirSync(join(temp, "scheduler"));
      writeFileSync(join(temp, "scheduler", "scheduler_config.json"), `${JSON.stringify(contents.scheduler, null, 2)}\n`);
    }
    writeFileSync(join(temp, "model_index.json"), `${JSON.stringify({ _class_name: "VidRDPipeline", ...contents.index }, null, 2)}\n`);
    if (existsSync(target)) rmSync(target, { recursive: true });
    renameSync(temp, target);
  } catch (e) {
    rmSync(temp, { recursive: true, force: true });
    throw e;
  }
}
