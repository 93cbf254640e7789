// Every random draw of the system goes through a NoiseSource (DESIGN.md): same source, same video.

export interface NoiseSource {
  /** Standard normal samples for a tensor of `shape`, in row-major order. */
  randn(shape: readonly number[]): Float32Array;
}
