// stdout and stderr may be pipes whose reader has gone (`vidrd generate ... 2>&1 | head -2`): writing to
// them is best-effort, so a closed pipe never costs the video being written. Kept apart from command.ts
// (which loads the library) so that main.ts can install it without loading the model stack.

/** Errors of a write to a stream whose reader is gone: nobody is left to read what would be said. */
export function isClosedPipeError(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return code === "EPIPE" || code === "ERR_STREAM_DESTROYED" || code === "EIO" || code === "ECONNRESET";
}

let pipesGuarded = false;

/**
 * Makes writes to process.stdout and process.stderr best-effort: a closed pipe (EPIPE, reported as an
 * 'error' event that would otherwise end the process) is ignored, so the run goes on and its output file
 * is finished. Any other stream error keeps Node's default (it is thrown). Idempotent.
 */
export function ignoreClosedPipes(): void {
  if (pipesGuarded) return;
  pipesGuarded = true;
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", (e) => {
      if (!isClosedPipeError(e)) throw e;
    });
  }
}

/** Writes `text` to a stream, ignoring a closed pipe (thrown synchronously by some streams). */
export function writeBestEffort(stream: { write(text: string): unknown }, text: string): void {
  try {
    stream.write(text);
  } catch (e) {
    if (!isClosedPipeError(e)) throw e;
  }
}
