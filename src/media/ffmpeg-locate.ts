// Where ffmpeg and ffprobe are. vidrd does not bundle ffmpeg (licences and 70 MB of binaries); it uses the
// system's (Debian's package) or the one VIDRD_FFMPEG names. Looked up on every call, not cached: a
// process (a test, a server reconfigured at run time) may change the environment between videos, and the
// lookup is a few stat calls against seconds of encoding.

import { accessSync, constants, statSync } from "node:fs";
import { basename, delimiter, dirname, isAbsolute, join, resolve } from "node:path";

export const FFMPEG_INSTALL_HINT =
  "install it with `apt-get install ffmpeg` (Debian/Ubuntu), `brew install ffmpeg` (macOS) or `winget install ffmpeg` (Windows), " +
  "or set VIDRD_FFMPEG to the path of an ffmpeg binary (and VIDRD_FFPROBE for ffprobe if it is not beside it)";

/** ffmpeg or ffprobe cannot be found or run; the message says where it looked and how to install it. */
export class FfmpegMissingError extends Error {
  constructor(
    readonly tool: "ffmpeg" | "ffprobe",
    detail: string,
  ) {
    super(`${tool} not found: ${detail}; ${FFMPEG_INSTALL_HINT}`);
    this.name = "FfmpegMissingError";
  }
}

export interface FfmpegTools {
  ffmpeg: string;
  ffprobe: string;
}

function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(name: string, env: NodeJS.ProcessEnv): string | null {
  const exts = process.platform === "win32" ? (env.PATHEXT ?? ".EXE").split(";") : [""];
  for (const dir of (env.PATH ?? "").split(delimiter)) {
    if (dir === "") continue;
    for (const ext of exts) {
      const candidate = join(dir, name + ext);
      if (isExecutableFile(candidate)) return candidate;
    }
  }
  return null;
}

/** The binary an environment variable names; an error when it is set but unusable, null when unset. */
function fromVariable(tool: "ffmpeg" | "ffprobe", variable: string, env: NodeJS.ProcessEnv): string | null {
  const value = env[variable];
  if (value === undefined || value === "") return null;
  // A bare name ("ffmpeg-6") is looked up on PATH, as a shell would.
  const path = isAbsolute(value) || value.includes("/") || value.includes("\\") ? resolve(value) : onPath(value, env);
  if (path === null || !isExecutableFile(path)) {
    throw new FfmpegMissingError(tool, `${variable}=${value} is not an executable file`);
  }
  return path;
}

/**
 * ffmpeg: VIDRD_FFMPEG, else PATH. ffprobe: VIDRD_FFPROBE, else the ffprobe beside VIDRD_FFMPEG (same
 * name with "ffmpeg" replaced, so "ffmpeg-6.exe" pairs with "ffprobe-6.exe"), else PATH.
 * Throws FfmpegMissingError naming what was tried.
 */
export function locateFfmpeg(env: NodeJS.ProcessEnv = process.env): FfmpegTools {
  const explicit = fromVariable("ffmpeg", "VIDRD_FFMPEG", env);
  const ffmpeg = explicit ?? onPath("ffmpeg", env);
  if (ffmpeg === null) throw new FfmpegMissingError("ffmpeg", "VIDRD_FFMPEG is not set and no ffmpeg is on PATH");
  let ffprobe = fromVariable("ffprobe", "VIDRD_FFPROBE", env);
  if (ffprobe === null && explicit !== null) {
    const beside = join(dirname(explicit), basename(explicit).replace(/ffmpeg/i, "ffprobe"));
    if (beside !== explicit && isExecutableFile(beside)) ffprobe = beside;
  }
  ffprobe ??= onPath("ffprobe", env);
  if (ffprobe === null) {
    throw new FfmpegMissingError("ffprobe", `VIDRD_FFPROBE is not set and no ffprobe is beside ${ffmpeg} or on PATH`);
  }
  return { ffmpeg, ffprobe };
}
