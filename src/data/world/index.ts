// The synthetic video world: seeded scenes of one shape on a plain or textured background, doing actions,
// as still images, action clips and long videos with exact labels.

export { OBJECT_COLOR_NAMES, BACKGROUND_COLOR_NAMES, NAMED_RGB, rgbDistance2, type ColorName, type BackgroundColorName, type Rgb } from "./palette.js";
export { SHAPE_NAMES, STAR_INNER_RATIO, UNIT_SHAPE_AREA, shapeCoverage, polygonVertices, type ShapeName, type ObjectState, type Coverage } from "./shapes.js";
export { TEXTURE_NAMES, TEXTURE_CONTRAST, textureTone, renderBackground, type TextureName, type BackgroundSpec, type StripeOrientation } from "./background.js";
export {
  DIRECTIONS,
  DIRECTION_VECTORS,
  VERBS,
  ACTION_NAMES,
  actionName,
  motionDirection,
  stateAt,
  type Direction,
  type Verb,
  type Rotation,
  type ActionName,
  type ActionSpec,
} from "./actions.js";
export { resolveWorldConfig, WorldConfigError, DEFAULT_WORLD_CONFIG, FRAME_MARGIN, type WorldConfig, type WorldConfigInput, type Range, type CaptionBackground } from "./config.js";
export type { SceneLabel, StillLabel, ActionLabel, ClipLabel, SegmentLabel, SegmentTransition, LongVideoLabel } from "./labels.js";
export { backgroundPhrase, subjectPhrase, actionPhrase, stillCaption, actionCaption, longVideoCaption } from "./captions.js";
export { renderFrame } from "./render.js";
export { stillImage, type StillImage } from "./still.js";
export { actionClip, type ActionClip } from "./clip.js";
export { longVideo, type LongVideo } from "./long-video.js";
