// Benches that measure peak RSS run each case in its own child process, so each ru_maxrss is that case's
// alone. The protocol: the child prints its result as the last line of stdout (JSON); its stderr is passed
// through as progress.

import { spawn } from "node:child_process";

export type ChildOutcome = { ok: true; result: unknown } | { ok: false; reason: string; notFound?: boolean };

/** Runs `command args` to completion and parses the last stdout line as JSON. Never rejects. */
export function runJsonChild(command: string, args: readonly string[]): Promise<ChildOutcome> {
  return new Promise((done) => {
    const proc = spawn(command, [...args], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    proc.stdout.on("data", (c: Buffer) => (out += c.toString()));
    proc.stderr.on("data", (c: Buffer) => process.stderr.write(c));
    proc.on("error", (e: NodeJS.ErrnoException) => done({ ok: false, reason: `${command} failed to start: ${e.message}`, notFound: e.code === "ENOENT" }));
    proc.on("close", (code) => {
      try {
        return done({ ok: true, result: JSON.parse(out.trim().split("\n").pop() ?? "") });
      } catch {
        done({ ok: false, reason: `${command} exited with status ${code} without a result` });
      }
    });
  });
}

/** The same for a TypeScript bench file run as a child of this Node (flags first, e.g. --expose-gc). */
export async function runBenchChild<T>(file: string, args: readonly string[], nodeFlags: readonly string[] = []): Promise<T> {
  const r = await runJsonChild(process.execPath, [...nodeFlags, "--import", "tsx", file, ...args]);
  if (!r.ok) throw new Error(`bench child ${file} ${args.join(" ")}: ${r.reason}`);
  return r.result as T;
}
