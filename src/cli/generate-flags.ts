// The flags of `vidrd generate` and `vidrd extend`, and --config: both become the one raw options object
// that resolveGenerateSettings validates, so a bad value gets the same message from a flag or the file.
//
// Flags are derived from generateSchema: every field is a flag (camelCase field -> --kebab-case), its kind
// (number, boolean, text) read from the schema, so a field added there is a flag here without a second list.
// A config file is a JSON object with the schema's own field names (camelCase, as a library user passes
// them); relative paths in it (out, model, promptSchedule) are relative to the file's folder, so a config
// that sits beside its model and prompt schedule works from any working directory. Flags win over the file.

import { readFileSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import { parseArgs } from "node:util";
import { OptionsError, flagName, generateSchema, parseJsonText, resolveGenerateSettings, type GenerateSettings } from "../app/index.js";
import { UsageError } from "./command.js";

export type Field = keyof GenerateSettings;
type FieldKind = "number" | "boolean" | "text";

/** The fields a command takes as flags (the prompt is positional); extend leaves out other strategies' options. */
export const GENERATE_FIELDS: readonly Field[] = (Object.keys(generateSchema.shape) as Field[]).filter((f) => f !== "prompt");
export const EXTEND_FIELDS: readonly Field[] = GENERATE_FIELDS.filter((f) => f !== "stride" && f !== "partitions" && f !== "lookahead");

/** Config fields holding paths, resolved against the config file's folder. */
const PATH_FIELDS: readonly Field[] = ["out", "model", "promptSchedule"];

/** --frames and --clips say the same thing (the length): a flag of either replaces both in the file. */
const LENGTH_FIELDS: readonly Field[] = ["frames", "clips"];

interface SchemaNode {
  def: { type: string; innerType?: SchemaNode };
}

/** What a field holds, seen through zod's optional / default wrappers. */
export function fieldKind(field: Field): FieldKind {
  let node = generateSchema.shape[field] as unknown as SchemaNode;
  while ((node.def.type === "optional" || node.def.type === "default") && node.def.innerType) node = node.def.innerType;
  return node.def.type === "number" ? "number" : node.def.type === "boolean" ? "boolean" : "text";
}

const flag = (field: Field): string => flagName(field).slice(2);

type OptionSpec = { type: "string" | "boolean"; short?: string };

function parseOptions(fields: readonly Field[]): Record<string, OptionSpec> {
  const options: Record<string, OptionSpec> = { config: { type: "string" }, help: { type: "boolean", short: "h" } };
  for (const field of fields) {
    if (fieldKind(field) === "boolean") {
      options[flag(field)] = { type: "boolean" };
      options[`no-${flag(field)}`] = { type: "boolean" };
    } else {
      options[flag(field)] = { type: "string" };
    }
  }
  return options;
}

/**
 * parseArgs refuses `--frames -3` (a value that looks like a flag); a negative number after a flag that
 * takes a value is meant as its value, so it is joined as `--frames=-3` and reaches the schema's message.
 */
function joinNegativeValues(argv: readonly string[], options: Record<string, OptionSpec>): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const next = argv[i + 1];
    if (arg.startsWith("--") && options[arg.slice(2)]?.type === "string" && next !== undefined && /^-(\d|\.\d)/.test(next)) {
      out.push(`${arg}=${next}`);
      i++;
    } else {
      out.push(arg);
    }
  }
  return out;
}

/** A number field's text as a number; text that is not one stays text, so the schema names what is allowed. */
function numberOrText(text: string): number | string {
  const n = Number(text);
  return text.trim() !== "" && Number.isFinite(n) ? n : text;
}

export interface ParsedCommandLine {
  help: boolean;
  positionals: string[];
  /** Options given as flags, as schema fields. */
  flags: Record<string, unknown>;
  config: string | undefined;
}

export function parseCommandLine(argv: readonly string[], fields: readonly Field[]): ParsedCommandLine {
  const options = parseOptions(fields);
  const { values, positionals } = parseArgs({ args: joinNegativeValues(argv, options), options, allowPositionals: true, strict: true });
  const flags: Record<string, unknown> = {};
  for (const field of fields) {
    const kind = fieldKind(field);
    if (kind === "boolean") {
      const on = values[flag(field)] === true;
      const off = values[`no-${flag(field)}`] === true;
      if (on && off) throw new UsageError(`--${flag(field)} and --no-${flag(field)} were both given`);
      if (on || off) flags[field] = on;
      continue;
    }
    const text = values[flag(field)];
    if (typeof text === "string") flags[field] = kind === "number" ? numberOrText(text) : text;
  }
  return { help: values.help === true, positionals, flags, config: typeof values.config === "string" ? values.config : undefined };
}

/** Reads a --config file: a JSON object of schema fields; its relative paths resolved against its folder. */
export function readConfigFile(path: string, fields: readonly Field[]): Record<string, unknown> {
  const where = `--config ${path}`;
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new OptionsError(`${where}: ${code === "ENOENT" ? "no such file" : `cannot read it (${code ?? (e as Error).message})`}; allowed: a JSON file of options`);
  }
  let json: unknown;
  try {
    json = parseJsonText(text); // a BOM is accepted; 1e400 is named, not read as Infinity
  } catch (e) {
    throw new OptionsError(`${where}: not valid JSON (${(e as Error).message})`);
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new OptionsError(`${where}: holds ${Array.isArray(json) ? "an array" : json === null ? "null" : typeof json}; allowed: a JSON object of options, e.g. {"steps": 25, "noiseRecycle": 4}`);
  }
  const allowed = new Set<string>(["prompt", ...fields]);
  const config: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(json)) {
    if (!allowed.has(key)) {
      const camel = key.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
      const hint = camel !== key && allowed.has(camel) ? `write "${camel}" (fields are the flags in camelCase)` : `allowed: ${[...allowed].join(", ")}`;
      throw new OptionsError(`${where}: "${key}" is not an option here; ${hint}`);
    }
    config[key] = PATH_FIELDS.includes(key as Field) && typeof value === "string" && !isAbsolute(value) ? resolve(dirname(path), value) : value;
  }
  return config;
}

/**
 * The settings of a command line: the prompt, the config file's options under the flags, validated by
 * `resolveSettings` (resolveGenerateSettings, or extend's). The file's own values are checked first and
 * on their own, so a bad value there is named as `--config <file>: "field"`, and a bad flag as `--flag`.
 */
export function resolveCommandSettings(
  parsed: ParsedCommandLine,
  prompt: string | undefined,
  fields: readonly Field[],
  resolveSettings: (raw: Record<string, unknown>, source: string) => GenerateSettings = resolveGenerateSettings,
): GenerateSettings {
  const config = parsed.config !== undefined ? readConfigFile(parsed.config, fields) : {};
  const overridden = new Set(Object.keys(parsed.flags));
  if (LENGTH_FIELDS.some((f) => overridden.has(f))) for (const f of LENGTH_FIELDS) overridden.add(f);
  if (prompt !== undefined) overridden.add("prompt");
  const fromFile = Object.fromEntries(Object.entries(config).filter(([k]) => !overridden.has(k)));
  if (prompt === undefined && !("prompt" in fromFile)) throw new UsageError(`needs "<prompt>" (in quotes), or "prompt" in the --config file`);
  const withPrompt = prompt === undefined ? fromFile : { ...fromFile, prompt };
  if (parsed.config !== undefined) resolveSettings(withPrompt, `--config ${parsed.config}`);
  return resolveSettings({ ...withPrompt, ...parsed.flags }, "flags");
}
