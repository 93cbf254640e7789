// Names such as "noise.2" and "noise.10" compare by the numbers in them, so recorded draws replay in
// the order they were made even when the writer did not zero-pad the indices.

const RUNS = /\d+|\D+/g;

/**
 * Compares `a` and `b` run by run: runs of digits by numeric value (any length; leading zeros do not
 * change the value), other runs by UTF-16 code units, a digit run before a non-digit run. Names that
 * tie ("a01" and "a1") fall back to plain code-unit order, so the order is total and deterministic.
 */
export function compareNatural(a: string, b: string): number {
  const ra = a.match(RUNS) ?? [];
  const rb = b.match(RUNS) ?? [];
  for (let i = 0; i < Math.min(ra.length, rb.length); i++) {
    const c = compareRun(ra[i], rb[i]);
    if (c !== 0) return c;
  }
  return ra.length - rb.length || (a < b ? -1 : a > b ? 1 : 0);
}

function compareRun(x: string, y: string): number {
  const xDigits = isDigit(x);
  const yDigits = isDigit(y);
  if (xDigits !== yDigits) return xDigits ? -1 : 1;
  if (xDigits) {
    // Compared as strings so that numbers beyond 2^53 still order exactly.
    const xv = x.replace(/^0+(?=\d)/, "");
    const yv = y.replace(/^0+(?=\d)/, "");
    if (xv.length !== yv.length) return xv.length - yv.length;
    return xv < yv ? -1 : xv > yv ? 1 : 0;
  }
  return x < y ? -1 : x > y ? 1 : 0;
}

function isDigit(run: string): boolean {
  const c = run.charCodeAt(0);
  return c >= 48 && c <= 57;
}
