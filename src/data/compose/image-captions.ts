// Image-text pairs as a captions file beside the images: CSV (path,caption) or JSONL ({"path", "caption"}).
// Paths are relative to the captions file's folder (absolute paths are taken as they are).
//
// CSV follows RFC 4180 (fields in double quotes may hold commas, quotes doubled, and newlines); a first
// row "path,caption" is a header. A row with more than two fields keeps the rest as the caption, joined by
// commas: captions with unquoted commas are common in hand-made files, and the path never has one there.

import { readFileSync } from "node:fs";
import { extname } from "node:path";
import { z } from "zod";

export interface CaptionedImage {
  /** As written in the file. */
  path: string;
  caption: string;
  /** 1-based line of the record, for reports. */
  line: number;
}

export interface CaptionsFileProblem {
  line: number;
  reason: string;
}

export interface CaptionsFile {
  images: CaptionedImage[];
  problems: CaptionsFileProblem[];
}

export class CaptionsFileError extends Error {
  override name = "CaptionsFileError";
}

/**
 * RFC 4180 records with the line each starts on. Spaces before an opening quote are dropped (", "a, b"" is
 * common in hand-made files). A quote never closed is a record with a problem, and parsing goes on from the
 * line after the one it opened on: it must not swallow the rest of the file.
 */
export function parseCsv(text: string, firstLine = 1): { fields: string[]; line: number; problem?: string }[] {
  const records: { fields: string[]; line: number; problem?: string }[] = [];
  let fields: string[] = [];
  let field = "";
  let quoted = false;
  let line = firstLine;
  let start = firstLine;
  let quoteLine = firstLine;
  let quoteAt = 0;
  let any = false; // whether the current record has content (blank lines are no records)
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else {
        if (c === "\n") line++;
        field += c;
      }
      continue;
    }
    if (c === '"' && field.trim() === "") {
      quoted = true;
      field = "";
      any = true;
      quoteLine = line;
      quoteAt = i;
    } else if (c === ",") {
      fields.push(field);
      field = "";
      any = true;
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      if (any || field !== "") records.push({ fields: [...fields, field], line: start });
      fields = [];
      field = "";
      any = false;
      line++;
      start = line;
    } else {
      field += c;
      any = true;
    }
  }
  if (quoted) {
    records.push({ fields: [...fields], line: start, problem: `unterminated quote: the field opened on line ${quoteLine} has no closing '"'; allowed: "..." with quotes inside doubled ("")` });
    const next = text.indexOf("\n", quoteAt);
    if (next >= 0) records.push(...parseCsv(text.slice(next + 1), quoteLine + 1));
    return records;
  }
  if (any || field !== "") records.push({ fields: [...fields, field], line: start });
  return records;
}

const jsonlRecord = z.object({ path: z.string().min(1), caption: z.string() });

/** Reads a captions file; a missing file or an unknown format throws, a bad record is a problem. */
export function readCaptionsFile(path: string): CaptionsFile {
  const format = extname(path).toLowerCase();
  if (format !== ".csv" && format !== ".jsonl") throw new CaptionsFileError(`captions file ${path} has the extension "${format}"; allowed: .csv (path,caption) or .jsonl ({"path", "caption"})`);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new CaptionsFileError(`captions file ${path} cannot be read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1); // a byte-order mark from spreadsheet exports
  const images: CaptionedImage[] = [];
  const problems: CaptionsFileProblem[] = [];
  if (format === ".csv") {
    const records = parseCsv(text);
    if (records.length > 0 && records[0].fields.map((f) => f.trim().toLowerCase()).join(",") === "path,caption") records.shift();
    for (const { fields, line, problem } of records) {
      const [file = "", ...rest] = fields;
      if (problem !== undefined) problems.push({ line, reason: problem });
      else if (file.trim() === "") problems.push({ line, reason: "no image path in the first field" });
      else if (rest.length === 0) problems.push({ line, reason: `no caption: one field, expected path,caption` });
      else images.push({ path: file.trim(), caption: rest.join(",").trim(), line });
    }
  } else {
    text.split("\n").forEach((raw, k) => {
      if (raw.trim() === "") return;
      let value: unknown;
      try {
        value = JSON.parse(raw);
      } catch (e) {
        problems.push({ line: k + 1, reason: `not JSON: ${(e as Error).message}` });
        return;
      }
      const parsed = jsonlRecord.safeParse(value);
      if (parsed.success) images.push({ path: parsed.data.path, caption: parsed.data.caption.trim(), line: k + 1 });
      else problems.push({ line: k + 1, reason: parsed.error.issues.map((i) => `${i.path.join(".") || "record"}: ${i.message}`).join("; ") });
    });
  }
  return { images, problems };
}
