// The text-to-video UNet3D in two variants (the authors' VidRD model, diffusers' ModelScope model).
export {
  parseUNet3DConfig,
  UNet3DConfigError,
  SD21_BASE_VIDRD_CONFIG,
  MODELSCOPE_T2V_CONFIG,
  UNET3D_VARIANTS,
  type UNet3DConfig,
  type UNet3DVariant,
  type DownBlockType,
  type UpBlockType,
} from "./config.js";
export { buildUNet3D, type UNet3DBuildOptions, type UNet3DGraph } from "./unet3d.js";
export { inflateFrom2D, unet3dParamShapes, isTemporalKey, initialTemporalWeight, InflateError } from "./inflate.js";
