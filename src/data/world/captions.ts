// Caption grammar (every caption is lower case, no final period, except the long-video summary):
//
//   still     <subject> on <background>                   "a red star on a blue background"
//   action    <subject> [on <background>] <action>        "a red star moves left"
//                                                          "an orange square on a gray striped background grows"
//   subject     = <article> <color> <shape>               article "an" before a vowel ("an orange circle")
//   background  = <article> <color> [<texture>] background  texture: striped | checkered | speckled (none when plain)
//   action      = moves left | moves right | moves up | moves down
//               | moves up and to the left | moves up and to the right
//               | moves down and to the left | moves down and to the right
//               | grows | shrinks | rotates clockwise | rotates counterclockwise | bounces
//
// Whether an action caption names the background is WorldConfig.captionBackground. A long video's summary
// is one sentence per scene (a run of segments joined by "continue"), capitalised and ended with a
// period, its actions joined by ", then ", scenes joined by " Then ":
//   "A red star on a blue background moves left, then grows. Then a white circle on a black background bounces."

import type { ActionName } from "./actions.js";
import type { BackgroundSpec } from "./background.js";
import type { SceneLabel, SegmentLabel } from "./labels.js";

const TEXTURE_WORD = { plain: "", stripes: "striped ", checker: "checkered ", speckle: "speckled " } as const;

function withArticle(phrase: string): string {
  return `${/^[aeiou]/.test(phrase) ? "an" : "a"} ${phrase}`;
}

export function backgroundPhrase(background: BackgroundSpec): string {
  return withArticle(`${background.color} ${TEXTURE_WORD[background.texture]}background`);
}

export function subjectPhrase(scene: SceneLabel, withBackground: boolean): string {
  const subject = withArticle(`${scene.color} ${scene.shape}`);
  return withBackground ? `${subject} on ${backgroundPhrase(scene.background)}` : subject;
}

export function actionPhrase(name: ActionName): string {
  if (name.startsWith("move-")) {
    const [vertical, horizontal] = name.slice(5).split("-");
    return horizontal === undefined ? `moves ${vertical}` : `moves ${vertical} and to the ${horizontal}`;
  }
  switch (name) {
    case "grow":
      return "grows";
    case "shrink":
      return "shrinks";
    case "rotate-clockwise":
      return "rotates clockwise";
    case "rotate-counterclockwise":
      return "rotates counterclockwise";
    default:
      return "bounces";
  }
}

export function stillCaption(scene: SceneLabel): string {
  return subjectPhrase(scene, true);
}

export function actionCaption(scene: SceneLabel, name: ActionName, withBackground: boolean): string {
  return `${subjectPhrase(scene, withBackground)} ${actionPhrase(name)}`;
}

export function longVideoCaption(segments: readonly Pick<SegmentLabel, "scene" | "name" | "transition">[]): string {
  const sentences: string[] = [];
  let phrases: string[] = [];
  let subject = "";
  const flush = (): void => {
    if (phrases.length > 0) sentences.push(`${subject} ${phrases.join(", then ")}.`);
  };
  for (const s of segments) {
    if (s.transition !== "continue") {
      flush();
      phrases = [];
      subject = subjectPhrase(s.scene, true);
    }
    phrases.push(actionPhrase(s.name));
  }
  flush();
  return sentences.map((x, k) => (k === 0 ? x[0].toUpperCase() + x.slice(1) : `Then ${x}`)).join(" ");
}
