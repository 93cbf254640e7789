// Canonical JSON: object keys sorted at every level and undefined members dropped, so equal data gives equal
// text whatever its key order. What cache keys and content ids hash. Only plain data is accepted: a
// function, Map or class instance has no faithful JSON form, and hashing its lossy form would make two
// different values share a key.

/** `path` names the value in errors ("spec.options.trainable is a function"). bigint is written as a string. */
export function canonicalJson(value: unknown, path = "value"): string {
  if (value === null || typeof value === "boolean" || typeof value === "string") return JSON.stringify(value);
  if (typeof value === "bigint") return JSON.stringify(value.toString());
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new RangeError(`${path} is ${value}; canonical JSON takes finite numbers only`);
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map((v, i) => canonicalJson(v === undefined ? null : v, `${path}[${i}]`)).join(",")}]`;
  if (typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
    const members = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v, `${path}.${k}`)}`);
    return `{${members.join(",")}}`;
  }
  const what = typeof value === "function" ? "a function" : typeof value === "object" ? `a ${value.constructor?.name ?? "class instance"}` : typeof value;
  throw new RangeError(`${path} is ${what}; canonical JSON takes plain data only (leave it out, or describe it as data)`);
}
