// What a composition run did, for report.json and the summary a person reads: clips made, clips skipped
// because an earlier run made them, inputs (or clips) rejected and why, and spans too short to hold a clip.

import { FfmpegError } from "../../media/ffmpeg-process.js";
import type { DroppedSpan } from "./windows.js";

export interface RejectedItem {
  input: string;
  /** The clip, when one clip of the input failed (its caption) rather than the whole input. */
  clip?: string;
  reason: string;
}

export interface DroppedItem extends DroppedSpan {
  input: string;
}

export interface ComposeReport {
  out: string;
  inputs: number;
  made: { id: string; path: string; input: string }[];
  /** Ids already in the manifest with their file. */
  skipped: string[];
  rejected: RejectedItem[];
  dropped: DroppedItem[];
  /** Manifest lines dropped on open (a cut-off line, a missing file) whose clips were made again. */
  repaired: { file: string; line: number; reason: string }[];
  captioner?: { requests: number; retries: number; cacheHits: number; captions: number };
  /** Why the run ended before the last input, when it did. */
  stopped?: string;
  seconds: number;
}

/**
 * An error as one line for a report: ffmpeg's own last line of stderr rather than the "stderr ends with"
 * preamble, other multi-line messages joined, at most 300 characters.
 */
export function errorReason(e: unknown): string {
  let text: string;
  if (e instanceof FfmpegError) {
    const last = e.stderrTail.trim().split("\n").pop()?.trim() ?? "";
    text = `${e.message.split("; its stderr ends with:")[0]}${last ? `: ${last}` : ""}`;
  } else {
    text = e instanceof Error ? e.message : String(e);
  }
  const line = text.replace(/\s+/g, " ").trim();
  return line.length > 300 ? `${line.slice(0, 297)}...` : line;
}

export function emptyReport(out: string, inputs: number): ComposeReport {
  return { out, inputs, made: [], skipped: [], rejected: [], dropped: [], repaired: [], seconds: 0 };
}

/** The first words of a reason ("too short", "corrupt or unreadable"), which the summary counts by. */
function reasonKind(reason: string): string {
  return reason.split(":")[0];
}

function counted(items: readonly { reason: string }[]): string {
  const by = new Map<string, number>();
  for (const r of items) by.set(reasonKind(r.reason), (by.get(reasonKind(r.reason)) ?? 0) + 1);
  return [...by].map(([k, n]) => `${n} ${k}`).join(", ");
}

/** A few lines for a person: counts, the reasons grouped, where the manifest and the report are. */
export function reportSummary(report: ComposeReport): string {
  const lines = [
    `made ${report.made.length} clip${report.made.length === 1 ? "" : "s"}, skipped ${report.skipped.length} (already done), from ${report.inputs} input${report.inputs === 1 ? "" : "s"} in ${report.seconds.toFixed(1)} s`,
  ];
  if (report.rejected.length > 0) lines.push(`rejected ${report.rejected.length}: ${counted(report.rejected)} (details in report.json)`);
  if (report.dropped.length > 0) lines.push(`dropped ${report.dropped.length} span${report.dropped.length === 1 ? "" : "s"} shorter than a clip`);
  if (report.repaired.length > 0) lines.push(`repaired the manifest: ${report.repaired.length} line(s) without a finished clip were redone`);
  if (report.captioner) {
    const c = report.captioner;
    lines.push(`captioning service: ${c.captions} caption(s), ${c.requests} request(s), ${c.retries} retr${c.retries === 1 ? "y" : "ies"}, ${c.cacheHits} cache hit(s)`);
  }
  if (report.stopped) lines.push(`stopped early: ${report.stopped}; run the same command again to resume`);
  lines.push(`dataset: ${report.out} (manifest-*.jsonl, report.json)`);
  return `${lines.join("\n")}\n`;
}
