// JSON files people write (a --config file, a prompt schedule): a UTF-8 byte order mark, as some editors
// on Windows save, is accepted; a number JSON can spell but a double cannot hold (1e400 parses to
// Infinity, and JSON.stringify then says null) is named as what it is.

/** The text without a leading byte order mark. */
export function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** Where in `json` the first non-finite number is ("ranges[0].to"), or null when every number is finite. */
export function firstNonFiniteNumber(json: unknown, path = ""): string | null {
  if (typeof json === "number") return Number.isFinite(json) ? null : path || "the value";
  if (Array.isArray(json)) {
    for (let i = 0; i < json.length; i++) {
      const found = firstNonFiniteNumber(json[i], `${path}[${i}]`);
      if (found !== null) return found;
    }
  } else if (typeof json === "object" && json !== null) {
    for (const [key, value] of Object.entries(json)) {
      const found = firstNonFiniteNumber(value, path ? `${path}.${key}` : key);
      if (found !== null) return found;
    }
  }
  return null;
}

/**
 * JSON.parse with a leading BOM stripped; throws a SyntaxError for a number out of a double's range
 * ("ranges[0].to is not a finite number").
 */
export function parseJsonText(text: string): unknown {
  const json: unknown = JSON.parse(stripBom(text));
  const where = firstNonFiniteNumber(json);
  if (where !== null) throw new SyntaxError(`${where} is not a finite number (too large for a double)`);
  return json;
}
