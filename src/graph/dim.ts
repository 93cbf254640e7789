// Symbolic dimensions. A dimension is a number or a symbol expression such as "B", "B*F", "H/2" or
// "2*F": a monomial (rational coefficient times a product of named symbols). Monomials are closed under
// the products and quotients that reshapes of [B, C, F, H, W] latents need ([B*F, C, H, W],
// [B*H*W, F, C]) and under the halving and doubling of down- and up-sampling. Anything else (a sum of
// unlike symbols, an odd quotient) becomes an opaque symbol "(...)" that is only equal to itself.
// A quotient such as "H/2" is a size only for even H: the Graph records that, and Session.check tests it.

export type Dim = number | string;

interface Monomial {
  coef: number;
  factors: string[]; // sorted symbol names, repeated for powers
}

const SYMBOL = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function isSymbolName(s: string): boolean {
  return SYMBOL.test(s);
}

function parse(d: Dim): Monomial | null {
  if (typeof d === "number") return { coef: d, factors: [] };
  if (d.startsWith("(")) return null;
  // canonical form: [coef*]a*b*c[/den]; a user may write several denominators ("H/2/2" is H/4)
  const [num, ...dens] = d.split("/") as [string, ...string[]];
  let coef = 1;
  const factors: string[] = [];
  for (const part of num.split("*")) {
    if (/^\d+$/.test(part)) coef *= Number(part);
    else if (SYMBOL.test(part)) factors.push(part);
    else return null;
  }
  for (const den of dens) {
    if (!/^\d+$/.test(den) || Number(den) === 0) return null;
    coef /= Number(den);
  }
  factors.sort();
  return { coef, factors };
}

function format(m: Monomial): Dim {
  if (m.factors.length === 0) return m.coef;
  if (m.coef === 0) return 0;
  const sym = m.factors.join("*");
  if (m.coef === 1) return sym;
  if (Number.isInteger(m.coef)) return `${m.coef}*${sym}`;
  const inv = 1 / m.coef;
  if (Number.isInteger(inv)) return `${sym}/${inv}`;
  // a fraction num/den with a small power-of-two denominator, as halving channels or sizes gives
  for (let den = 2; den <= 1 << 20; den *= 2) {
    const num = m.coef * den;
    if (Number.isInteger(num)) return `${num}*${sym}/${den}`;
  }
  return `(${m.coef}*${sym})`;
}

/** Canonical form of a dimension given by a user ("F*B" and "B*F" are the same dimension). */
export function canonical(d: Dim): Dim {
  if (typeof d === "number") return d;
  const m = parse(d);
  return m ? format(m) : d;
}

export function isStatic(d: Dim): d is number {
  return typeof d === "number";
}

export function dimEq(a: Dim, b: Dim): boolean {
  return canonical(a) === canonical(b);
}

export function dimMul(a: Dim, b: Dim): Dim {
  if (a === 1) return canonical(b);
  if (b === 1) return canonical(a);
  const ma = parse(a);
  const mb = parse(b);
  if (!ma || !mb) return `(${a})*(${b})`;
  return format({ coef: ma.coef * mb.coef, factors: [...ma.factors, ...mb.factors].sort() });
}

export function dimProduct(dims: readonly Dim[]): Dim {
  return dims.reduce<Dim>((acc, d) => dimMul(acc, d), 1);
}

/** a / b when it is a monomial again; an opaque symbol otherwise. */
export function dimDiv(a: Dim, b: Dim): Dim {
  // x / 1 and x / x hold for opaque dims too (a stride-1 window on "(H+1)" keeps it)
  if (b === 1) return canonical(a);
  if (dimEq(a, b) && b !== 0) return 1;
  if (typeof a === "number" && typeof b === "number") {
    return a % b === 0 ? a / b : `(${a}/${b})`;
  }
  const ma = parse(a);
  const mb = parse(b);
  if (!ma || !mb || mb.coef === 0) return `(${a})/(${b})`;
  const rest = [...ma.factors];
  for (const f of mb.factors) {
    const i = rest.indexOf(f);
    if (i < 0) return `(${a})/(${b})`;
    rest.splice(i, 1);
  }
  const coef = ma.coef / mb.coef;
  if (rest.length === 0 && !Number.isInteger(coef)) return `(${a})/(${b})`;
  return format({ coef, factors: rest });
}

export function dimAdd(a: Dim, b: Dim): Dim {
  if (typeof a === "number" && typeof b === "number") return a + b;
  if (a === 0) return canonical(b);
  if (b === 0) return canonical(a);
  const ma = parse(a);
  const mb = parse(b);
  if (ma && mb && ma.factors.join("*") === mb.factors.join("*")) {
    return format({ coef: ma.coef + mb.coef, factors: ma.factors });
  }
  return `(${a}+${b})`;
}

/** (d + pad - span) / stride + 1 for a convolution or pooling window along one axis. */
export function dimWindow(d: Dim, padTotal: number, span: number, stride: number): Dim {
  if (typeof d === "number") return Math.floor((d + padTotal - span) / stride) + 1;
  const shift = padTotal - span + stride; // out = (d + shift) / stride when it divides
  if (shift === 0) return dimDiv(d, stride);
  if (stride === 1) return dimAdd(d, shift);
  // ceil(d / stride) for the usual "same" padding with stride 2 (k 3, pad 1): exact for even sizes, which
  // the graph then requires (Graph.addNode records the divisibility of every fractional dim it meets).
  if (shift > 0 && shift < stride) return dimDiv(d, stride);
  return `((${d}+${shift})/${stride})`;
}

export function shapeToString(shape: readonly Dim[]): string {
  return `[${shape.join(", ")}]`;
}

/** The symbol names a dimension is made of (for binding them to run-time sizes). */
export function symbolsOf(d: Dim): string[] {
  if (typeof d === "number") return [];
  const m = parse(d);
  return m ? m.factors : [];
}

/**
 * Evaluates a dimension given sizes for its symbols; null when a symbol is unbound or it is opaque. The
 * value is not a whole number when the sizes break a divisibility the dimension assumes ("H/2" at H = 5
 * is 2.5); `divisibilityOf` says which.
 */
export function evaluateDim(d: Dim, bindings: ReadonlyMap<string, number>): number | null {
  if (typeof d === "number") return d;
  const m = parse(d);
  if (!m) return null;
  const { numerator, divisor } = fraction(m.coef);
  let v = numerator;
  for (const f of m.factors) {
    const b = bindings.get(f);
    if (b === undefined) return null;
    v *= b;
  }
  return v / divisor;
}

/** coef as numerator / divisor in lowest terms (coefficients are integers over small denominators). */
function fraction(coef: number): { numerator: number; divisor: number } {
  for (let divisor = 1; divisor <= 1 << 20; divisor = divisor < 16 ? divisor + 1 : divisor * 2) {
    const numerator = coef * divisor;
    if (Math.abs(numerator - Math.round(numerator)) < 1e-9 * Math.max(1, Math.abs(numerator))) {
      return { numerator: Math.round(numerator), divisor };
    }
  }
  return { numerator: coef, divisor: 1 };
}

/**
 * The divisibility a fractional dimension assumes: "H/2" is a size only when H is divisible by 2, and
 * "3*H/4" when 3*H is divisible by 4. Null for whole-number coefficients, static and opaque dims.
 */
export function divisibilityOf(d: Dim): { numerator: Dim; divisor: number } | null {
  if (typeof d === "number") return null;
  const m = parse(d);
  if (!m || m.factors.length === 0) return null;
  const { numerator, divisor } = fraction(m.coef);
  if (divisor === 1) return null;
  return { numerator: format({ coef: numerator, factors: m.factors }), divisor };
}

/** The coefficient and symbol list of a monomial dimension, or null for an opaque one. */
export function monomialOf(d: Dim): { coef: number; factors: string[] } | null {
  return parse(d);
}
