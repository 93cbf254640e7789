// sin and cos of an angle in degrees from +, -, *, / only, so a seeded world draws the same pixels on
// every engine (Math.sin/Math.cos are only "implementation-approximated"; see tensor/portable-math.ts for
// the same reasoning about exp and log). Degrees make the range reduction exact: x % 360 is exact in IEEE
// arithmetic, and the reduced angle in [-45, 45] degrees keeps the Taylor series short. Accuracy: a few ulp.

const RADIANS_PER_DEGREE = Math.PI / 180;

/** sin and cos of r radians for |r| <= pi/4: Taylor series to the r^18 term (the first dropped term is < 2^-60). */
function sinCosReduced(r: number): [number, number] {
  const r2 = r * r;
  let s = 1;
  let c = 1;
  // nested forms: sin r = r (1 - r^2/(2*3) (1 - r^2/(4*5) (...))), cos r = 1 - r^2/(1*2) (1 - r^2/(3*4) (...))
  for (let n = 18; n >= 2; n -= 2) {
    s = 1 - (r2 / (n * (n + 1))) * s;
    c = 1 - (r2 / ((n - 1) * n)) * c;
  }
  return [r * s, c];
}

/** [sin, cos] of an angle given in degrees, deterministic across engines. */
export function sinCosDegrees(degrees: number): [number, number] {
  if (!Number.isFinite(degrees)) throw new Error(`sinCosDegrees: angle ${degrees} is not allowed; allowed: a finite number of degrees`);
  const turn = degrees % 360; // exact
  const quadrant = Math.round(turn / 90); // -4..4
  const [s, c] = sinCosReduced((turn - quadrant * 90) * RADIANS_PER_DEGREE);
  switch (((quadrant % 4) + 4) % 4) {
    case 0:
      return [s, c];
    case 1:
      return [c, -s];
    case 2:
      return [-s, -c];
    default:
      return [-c, s];
  }
}

