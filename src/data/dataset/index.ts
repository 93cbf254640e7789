// The dataset loader training uses: dataset folders and mixes, weighted shuffled epochs, batches of clips
// as tensors, cached VAE latents.

export { ClipLoader, LoaderError, stackRows, type ClipLoaderOptions, type ClipBatch, type LoadedDataset } from "./loader.js";
export { epochOrder, permutation, type DrawnClip, type EpochOrderOptions } from "./sampler.js";
export { LatentCache, type LatentEncoder } from "./latent-cache.js";
export { resolveDatasets, writeMix, MixError, MIX_FORMAT, MIX_FILE, type MixSource, type ResolvedDataset } from "./mix.js";
