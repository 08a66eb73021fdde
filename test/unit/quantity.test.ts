/** The TypeScript twin of the API server's quantity parsing and comparison (CEL `quantity()`). */
import { describe, expect, it } from 'vitest';
import { compareQuantities, parseQuantity, type Quantity } from '../../src/api/quantity.ts';
import { QUANTITY_PAIRS } from '../fixtures/validation-neighbours.ts';

const q = (text: string): Quantity => {
  const parsed = parseQuantity(text);
  if (!parsed) throw new Error(`not a quantity: ${text}`);
  return parsed;
};
const cmp = (a: string, b: string) => compareQuantities(q(a), q(b));

describe('quantities', () => {
  it.each(QUANTITY_PAIRS)('compares %s with %s as %i', (a, b, expected) => {
    expect(cmp(a, b)).toBe(expected);
    expect(cmp(b, a)).toBe(expected === 0 ? 0 : -expected);
  });

  it('refuses what ParseQuantity refuses', () => {
    for (const text of ['', '1K', 'abc', '1.2.3', '.', '1e', '1Gi1', ' 1', '1 ', 'e3', '1e99999999999999999999'])
      expect(parseQuantity(text), text).toBeUndefined();
  });

  it('reads huge exponents without building huge numbers', () => {
    const started = process.hrtime.bigint();
    expect(cmp('1e2147483647', '1e2147483646')).toBe(1);
    expect(cmp('1e-999999999', '1n')).toBe(0);
    expect(cmp('1e999999999', '10E')).toBe(1);
    // ParseQuantity keeps the low 32 bits of the exponent.
    expect(cmp('1e4294967296', '1')).toBe(0);
    // Only a guard against an accidental 10^(2^31): a generous bound, not a timing claim.
    expect(Number(process.hrtime.bigint() - started) / 1e9).toBeLessThan(5);
  });
});
