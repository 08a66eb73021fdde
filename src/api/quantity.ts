/**
 * Kubernetes resource quantities (`100m`, `1.5Gi`, `2e3`), parsed and compared the way the API server's CEL
 * `quantity()` library does (apimachinery `ParseQuantity`): exact decimal arithmetic, magnitudes rounded up to
 * the nano unit, binary-suffixed values capped at 2^63-1. The TypeScript twin of the CRD's quantity rules.
 */

/** A parsed quantity: `sign * nanos * 10^shift` nano units (1 = 1n), `nanos` without trailing zeros. */
export interface Quantity {
  sign: -1 | 0 | 1;
  nanos: bigint;
  shift: bigint;
}

const SYNTAX = /^([+-]?)([0-9]*)(?:[.]([0-9]*))?(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?[0-9]+)?$/;
const DECIMAL_SUFFIX: Record<string, number> = { n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
const BINARY_SUFFIX: Record<string, bigint> = { Ki: 10n, Mi: 20n, Gi: 30n, Ti: 40n, Pi: 50n, Ei: 60n };
const INT64_MAX = 2n ** 63n - 1n;
const NANO = 9n;

const digitsOf = (n: bigint) => BigInt(n.toString().length);
const pow10 = (n: bigint) => 10n ** n;

function normalize(sign: -1 | 1, nanos: bigint, shift: bigint): Quantity {
  if (nanos === 0n) return { sign: 0, nanos: 0n, shift: 0n };
  while (nanos % 10n === 0n) {
    nanos /= 10n;
    shift += 1n;
  }
  return { sign, nanos, shift };
}

/** `digits * 10^exponent` in nano units, rounded up (away from zero) to a whole nano. */
function decimalNanos(digits: bigint, exponent: bigint): { nanos: bigint; shift: bigint } {
  const scale = exponent + NANO;
  if (scale >= 0n) return { nanos: digits, shift: scale };
  const drop = -scale;
  // Dividing by more digits than `digits` has leaves a non-zero fraction: one nano.
  if (drop > digitsOf(digits)) return { nanos: digits === 0n ? 0n : 1n, shift: 0n };
  const divisor = pow10(drop);
  return { nanos: (digits + divisor - 1n) / divisor, shift: 0n };
}

/** The quantity `text` denotes, or undefined when the API server would not parse it. */
export function parseQuantity(text: string): Quantity | undefined {
  const m = SYNTAX.exec(text);
  if (!m) return undefined;
  const [, signText = '', whole = '', fraction = '', suffix = ''] = m;
  if (whole === '' && fraction === '') return undefined;
  const sign = signText === '-' ? -1 : 1;
  const digits = BigInt(`${whole}${fraction}` || '0');
  const binary = BINARY_SUFFIX[suffix];
  if (binary !== undefined) {
    // value = digits / 10^fraction * 2^binary, in nanos, rounded up, capped at 2^63-1 (as ParseQuantity does).
    const { nanos, shift } = decimalNanos(digits * 2n ** binary, -BigInt(fraction.length));
    const value = nanos * pow10(shift); // shift <= 9 here: the exponent is -fraction.length
    const cap = INT64_MAX * pow10(NANO);
    return normalize(sign, value > cap ? cap : value, 0n);
  }
  let exponent: bigint;
  if (suffix.length > 1) {
    // `e<N>`: ParseQuantity reads N as int64 and keeps its low 32 bits.
    const n = BigInt(suffix.slice(1));
    if (n > INT64_MAX || n < -INT64_MAX - 1n) return undefined;
    exponent = BigInt.asIntN(32, n);
  } else {
    exponent = BigInt(DECIMAL_SUFFIX[suffix] ?? 0);
  }
  const { nanos, shift } = decimalNanos(digits, exponent - BigInt(fraction.length));
  return normalize(sign, nanos, shift);
}

function compareMagnitudes(a: Quantity, b: Quantity): -1 | 0 | 1 {
  const da = digitsOf(a.nanos) + a.shift;
  const db = digitsOf(b.nanos) + b.shift;
  if (da !== db) return da < db ? -1 : 1;
  // Same number of digits: the shifts differ by at most the digit counts, so the powers stay small.
  // biome-ignore lint/complexity/useMathMinMax: Math.min does not take bigints
  const low = a.shift < b.shift ? a.shift : b.shift;
  const x = a.nanos * pow10(a.shift - low);
  const y = b.nanos * pow10(b.shift - low);
  return x === y ? 0 : x < y ? -1 : 1;
}

/** CEL `quantity(a).compareTo(quantity(b))`: -1, 0 or 1. */
export function compareQuantities(a: Quantity, b: Quantity): -1 | 0 | 1 {
  if (a.sign !== b.sign) return a.sign < b.sign ? -1 : 1;
  if (a.sign === 0) return 0;
  const magnitude = compareMagnitudes(a, b);
  return (a.sign === 1 ? magnitude : -magnitude) as -1 | 0 | 1;
}
