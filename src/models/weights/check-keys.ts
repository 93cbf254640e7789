// Does a state dict fit a model? Every difference is reported at once (missing keys, unexpected keys,
// shape mismatches), so a wrong file or a wrong config is diagnosed in one run, not one key per run.
// Strict by default, as the authors load (`load_state_dict(strict=True)`); `allowMissing` serves
// inflation (a 2-D SD UNet into the 3-D UNet: its temporal keys are missing and initialised instead).

import { StateDict } from "./state-dict.js";

export interface ShapeMismatch {
  readonly name: string;
  readonly expected: readonly number[];
  readonly actual: readonly number[];
}

export interface KeyReport {
  /** Expected by the model, absent from the weights. */
  readonly missing: string[];
  /** In the weights, unknown to the model. */
  readonly unexpected: string[];
  readonly mismatched: ShapeMismatch[];
  /** Expected keys present with the right shape. */
  readonly matched: number;
  /** Likely causes, when the differences follow a known pattern. */
  readonly hints: string[];
}

export interface CheckKeysOptions {
  /** Names the model and the weights in the error, e.g. "UNet3D (vidrd) from ModelT2V.pth [unet.*]". */
  readonly label?: string;
  /** Missing keys that are not an error: all (true) or those the predicate accepts. Default: none. */
  readonly allowMissing?: boolean | ((name: string) => boolean);
  /** Unexpected keys that are not an error (e.g. CLIP's `position_ids` buffer). Default: none. */
  readonly allowUnexpected?: boolean | ((name: string) => boolean);
  /** Names listed per category in the error message; the report itself lists all. Default 30. */
  readonly listLimit?: number;
}

export class KeyCheckError extends Error {
  override readonly name = "KeyCheckError";
  constructor(
    message: string,
    readonly report: KeyReport,
  ) {
    super(message);
  }
}

type Shapes = ReadonlyMap<string, readonly number[]>;

/**
 * Compares `actual` with the model's `expected` name -> shape map. Returns the report when nothing
 * disallowed differs; otherwise throws a KeyCheckError whose message lists every difference.
 */
export function checkKeys(expected: Shapes, actual: StateDict | Shapes, options: CheckKeysOptions = {}): KeyReport {
  const actualShapes = actual instanceof StateDict ? actual.shapes() : actual;
  const missing: string[] = [];
  const mismatched: ShapeMismatch[] = [];
  let matched = 0;
  for (const [name, shape] of expected) {
    const found = actualShapes.get(name);
    if (found === undefined) missing.push(name);
    else if (!sameShape(found, shape)) mismatched.push({ name, expected: shape, actual: found });
    else matched++;
  }
  const unexpected = [...actualShapes.keys()].filter((n) => !expected.has(n));
  const report: KeyReport = { missing, unexpected, mismatched, matched, hints: hintsFor(missing, unexpected, expected, actualShapes) };
  const allowed = (rule: CheckKeysOptions["allowMissing"], name: string) => rule === true || (typeof rule === "function" && rule(name));
  const fatal =
    mismatched.length > 0 ||
    missing.some((n) => !allowed(options.allowMissing, n)) ||
    unexpected.some((n) => !allowed(options.allowUnexpected, n));
  if (fatal) throw new KeyCheckError(formatKeyReport(report, expected.size, options), report);
  return report;
}

/** The multi-line description of a report that KeyCheckError carries. */
export function formatKeyReport(report: KeyReport, expectedCount: number, options: CheckKeysOptions = {}): string {
  const limit = options.listLimit ?? 30;
  const label = options.label ?? "state dict";
  const counts = [
    report.missing.length > 0 ? `${report.missing.length} missing` : null,
    report.unexpected.length > 0 ? `${report.unexpected.length} unexpected` : null,
    report.mismatched.length > 0 ? `${report.mismatched.length} with the wrong shape` : null,
  ].filter((c) => c !== null);
  const lines = [`${label}: the weights do not fit the model: ${counts.join(", ")} (${report.matched} of ${expectedCount} expected keys match)`];
  const section = (title: string, items: string[]) => {
    if (items.length === 0) return;
    lines.push(`  ${title} (${items.length}):`);
    for (const item of items.slice(0, limit)) lines.push(`    ${item}`);
    if (items.length > limit) lines.push(`    ... and ${items.length - limit} more`);
  };
  section("missing", report.missing);
  section("unexpected", report.unexpected);
  section("wrong shape", report.mismatched.map((m) => `${m.name}: model expects ${formatShape(m.expected)}, weights have ${formatShape(m.actual)}`));
  for (const hint of report.hints) lines.push(`  hint: ${hint}`);
  return lines.join("\n");
}

function hintsFor(missing: string[], unexpected: string[], expected: Shapes, actual: Shapes): string[] {
  const hints: string[] = [];
  if (missing.length > 0 && unexpected.length > 0) {
    // every name carries one extra leading segment, as in a Lightning checkpoint ("unet.conv_in.weight")
    const prefixes = new Set(unexpected.map((n) => n.split(".")[0]));
    const stripped = unexpected.filter((n) => expected.has(n.slice(n.indexOf(".") + 1)));
    if (stripped.length >= missing.length / 2 && stripped.length > 0) {
      hints.push(`the weights' names start with ${[...prefixes].map((p) => `"${p}."`).join(", ")}: select one part (prefix) of the checkpoint`);
    }
    const legacy = /\.(query|key|value|proj_attn)\.(weight|bias)$/;
    if (unexpected.some((n) => legacy.test(n)) && missing.some((n) => /\.(to_q|to_k|to_v|to_out\.0)\.(weight|bias)$/.test(n))) {
      hints.push("the weights use diffusers <= 0.14 attention names (query/key/value/proj_attn); rename them to to_q/to_k/to_v/to_out.0");
    }
  }
  if (missing.length > 0 && unexpected.length === 0 && missing.every((n) => n.includes("temp_") || n.startsWith("transformer_in."))) {
    hints.push("only temporal layers are missing: these look like 2-D (image) weights; load them with allowMissing for temporal keys (inflation)");
  }
  if (actual.size === 0) hints.push("the weights hold no tensors at all");
  return hints;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function formatShape(s: readonly number[]): string {
  return `[${s.join(", ")}]`;
}

/**
 * Parses a key list as written by the research scripts: one `name<TAB>[d0, d1, ...]` per line; blank
 * lines and lines starting with "#" are skipped.
 */
export function parseKeyShapeList(text: string, label = "key list"): Map<string, number[]> {
  const out = new Map<string, number[]>();
  text.split("\n").forEach((line, i) => {
    if (line.trim() === "" || line.startsWith("#")) return;
    const m = /^(\S+)\t\[([\d, ]*)\]\s*$/.exec(line);
    if (m === null) throw new Error(`${label} line ${i + 1}: expected "name<TAB>[d0, d1, ...]", got ${JSON.stringify(line.slice(0, 80))}`);
    out.set(m[1], m[2].trim() === "" ? [] : m[2].split(",").map((d) => Number(d.trim())));
  });
  return out;
}
