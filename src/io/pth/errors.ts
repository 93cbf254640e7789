// Errors of the PyTorch checkpoint reader. Every message starts with the file (or label) it is about.

/** A .pth / .bin / .ckpt file could not be read: corrupt, truncated, or a layout vidrd does not handle. */
export class PthError extends Error {
  override readonly name: string = "PthError";
}

/**
 * The file asks for something the restricted unpickler will not do: a Python global outside the
 * allow-list (e.g. `posix.system`), an opcode that builds arbitrary objects, or an unknown opcode.
 * Nothing from the file has run when this is thrown: the reader never executes anything.
 */
export class PickleRefusedError extends PthError {
  override readonly name: string = "PickleRefusedError";
  constructor(
    message: string,
    /** "module.name" of the refused global, or the opcode's name, e.g. "INST" or "0xd0". */
    readonly refused: string,
  ) {
    super(message);
  }
}

/** PthError as a factory, for the shared byte sources. */
export const pthError = (message: string, options?: { cause?: unknown }): Error => new PthError(message, options);
