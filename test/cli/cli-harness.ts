import assert from "node:assert/strict";
// Running the real `vidrd` command in tests, as test/cli/help.test.ts does: the CLI's source through tsx
// (no build needed), in the repository root, against a tiny model folder and a private compile cache.

import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { writeTinyModel } from "../app/tiny-model.js";

export const root = fileURLToPath(new URL("../..", import.meta.url));
const entry = ["--import", "tsx", "src/cli/main.ts"];

export interface Workspace {
  dir: string;
  model: string;
  env: NodeJS.ProcessEnv;
  remove(): void;
}

/** A temporary folder with the tiny model (N = 4 frames) and its own VIDRD_CACHE_DIR. */
export function workspace(name: string): Workspace {
  const dir = mkdtempSync(join(tmpdir(), `vidrd-cli-${name}-`));
  const model = join(dir, "model");
  writeTinyModel(model);
  const env: NodeJS.ProcessEnv = { ...process.env, VIDRD_CACHE_DIR: join(dir, "cache") };
  delete env.NODE_TEST_CONTEXT; // the child is a program under test, not a test run
  return { dir, model, env, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Fast settings for the tiny model: 16 x 16 frames, 2 steps, one thread, M = 2 (below N = 4). */
export function tinyFlags(ws: Workspace): string[] {
  return ["--model", ws.model, "--size", "16", "--steps", "2", "--threads", "1", "--overlap", "2"];
}

export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function vidrd(args: readonly string[], env: NodeJS.ProcessEnv = process.env, as?: { uid: number; gid: number }): Run {
  const r = spawnSync(process.execPath, [...entry, ...args], { cwd: root, encoding: "utf8", env, ...as });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * Root may write anywhere, so permission cases run the CLI as user nobody (65534) when the tests run as
 * root; null when that user cannot run the checkout (e.g. it sits under a folder only root may enter).
 */
export function unprivilegedUser(): { uid: number; gid: number } | null {
  const nobody = { uid: 65534, gid: 65534 };
  const probe = spawnSync(process.execPath, [...entry, "--version"], { cwd: root, encoding: "utf8", ...nobody });
  return probe.status === 0 ? nobody : null;
}

/** Starts vidrd without waiting; `done` resolves with the exit code and everything it wrote. */
export function startVidrd(args: readonly string[], env: NodeJS.ProcessEnv): { child: ChildProcess; stderrSoFar(): string; done: Promise<Run> } {
  const child = spawn(process.execPath, [...entry, ...args], { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout!.setEncoding("utf8").on("data", (t: string) => (stdout += t));
  child.stderr!.setEncoding("utf8").on("data", (t: string) => (stderr += t));
  const done = new Promise<Run>((resolve) => child.on("close", (status) => resolve({ status, stdout, stderr })));
  return { child, stderrSoFar: () => stderr, done };
}

/** The non-empty lines of a stream's text. */
export function lines(text: string): string[] {
  return text.split("\n").filter((l) => l.trim() !== "");
}

/** Files in `dir` whose names start with a dot: the writers' temporaries (".out.mp4.<pid>.<id>.tmp.mp4"). */
export function hiddenFiles(dir: string): string[] {
  return readdirSync(dir).filter((n) => n.startsWith("."));
}

/** Waits until a started run reports a clip past the first of `clips` ("clip 2/K"): clip 0 is written by then. */
export async function untilPastFirstClip(run: ReturnType<typeof startVidrd>, clips: number, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const past = new RegExp(`^clip ([2-9]|\\d\\d+)/${clips}`, "m");
  while (!past.test(run.stderrSoFar())) {
    assert.ok(Date.now() < deadline, `no progress past clip 1: ${run.stderrSoFar()}`);
    assert.equal(run.child.exitCode, null, `exited early: ${run.stderrSoFar()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
