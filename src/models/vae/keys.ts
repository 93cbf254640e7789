// Parameter names of the VAE. The graphs declare diffusers' current names; checkpoints written by
// diffusers <= 0.14 (the authors' `vae_finetuned`, older SD files) name the mid-block attentions' weights
// query/key/value/proj_attn (models-spec.md section 4.3). Same shapes, only the names differ.

/** Old attention sub-module name -> the one the graphs use. */
export const VAE_LEGACY_ATTENTION_NAMES: Readonly<Record<string, string>> = Object.freeze({
  query: "to_q",
  key: "to_k",
  value: "to_v",
  proj_attn: "to_out.0",
});

const LEGACY_ATTENTION = /^((?:encoder|decoder)\.mid_block\.attentions\.\d+)\.(query|key|value|proj_attn)\.(weight|bias)$/;

/**
 * The graph's name for a checkpoint key: `decoder.mid_block.attentions.0.query.weight` ->
 * `decoder.mid_block.attentions.0.to_q.weight`; every other key (group_norm included) is unchanged.
 */
export function vaeKeyFromCheckpoint(key: string): string {
  const m = LEGACY_ATTENTION.exec(key);
  return m ? `${m[1]}.${VAE_LEGACY_ATTENTION_NAMES[m[2]!]}.${m[3]}` : key;
}
