// Class labels as words, and captions from labels through a template (VIDRD.md section 4: action-recognition
// clips are captioned from their class label when no captioning model is used).

/**
 * A folder or class name as lower-case words: "ApplyEyeMakeup" -> "apply eye makeup", "YoYo" -> "yo yo",
 * "HTTPServer" -> "http server", "Playing_Dhol-2" -> "playing dhol 2". Splits at lower-to-upper and
 * letter-digit changes, at an acronym's last capital when a word follows, and at _ - . and spaces.
 */
export function labelFromClassName(name: string): string {
  return name
    .replace(/([a-z])([A-Z])/g, "$1 $2")
    .replace(/([A-Z]+)([A-Z][a-z])/g, "$1 $2")
    .replace(/([A-Za-z])([0-9])/g, "$1 $2")
    .replace(/([0-9])([A-Za-z])/g, "$1 $2")
    .replace(/[\s_.-]+/g, " ")
    .trim()
    .toLowerCase();
}

/** The default template for class-label captions. */
export const DEFAULT_CAPTION_TEMPLATE = "a person {label}";

export class CaptionTemplateError extends Error {
  override name = "CaptionTemplateError";
}

/** Checks a template: it must name {label} (else every clip would get the same caption) and no other field. */
export function checkCaptionTemplate(template: string): string {
  if (typeof template !== "string" || !template.includes("{label}")) {
    throw new CaptionTemplateError(`caption template is ${JSON.stringify(template)}; allowed: text containing {label}, e.g. "${DEFAULT_CAPTION_TEMPLATE}"`);
  }
  const other = /\{(?!label\})[^}]*\}/.exec(template);
  if (other) throw new CaptionTemplateError(`caption template ${JSON.stringify(template)} has the field ${other[0]}; allowed: {label} only`);
  return template;
}

/** `template` with every {label} replaced by `label`. */
export function captionFromTemplate(template: string, label: string): string {
  return template.split("{label}").join(label).replace(/\s+/g, " ").trim();
}
