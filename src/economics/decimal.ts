/**
 * Exact decimal arithmetic for money shown to people: values are rationals over bigints, so "0.35" is
 * 35/100 exactly and dividing by 24 loses nothing. Rounding happens only when asked, with a named mode.
 * Hot loops (planner, backtest) use plain numbers; this type is for parsing specs and for display.
 */

export type RoundingMode = 'halfUp' | 'halfEven' | 'down' | 'floor' | 'ceil';

const DECIMAL = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;
const MAX_EXPONENT = 400;

function gcd(a: bigint, b: bigint): bigint {
  if (a < 0n) a = -a;
  if (b < 0n) b = -b;
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}

function pow10(n: number): bigint {
  return 10n ** BigInt(n);
}

export class Decimal {
  static readonly ZERO = new Decimal(0n, 1n);
  static readonly ONE = new Decimal(1n, 1n);

  /** Numerator and positive denominator, always reduced. */
  private constructor(
    readonly num: bigint,
    readonly den: bigint,
  ) {}

  static fraction(num: bigint, den: bigint): Decimal {
    if (den === 0n) throw new RangeError('division by zero');
    if (den < 0n) {
      num = -num;
      den = -den;
    }
    const g = gcd(num, den);
    return g > 1n ? new Decimal(num / g, den / g) : new Decimal(num, den);
  }

  /** Parses "0.35", "-1.5", "+2", ".5", "2.5e-3" exactly. Throws on anything else. */
  static parse(text: string): Decimal {
    const m = DECIMAL.exec(text.trim());
    const intPart = m?.[2] ?? '';
    const frac = m?.[3] ?? '';
    if (!m || (intPart === '' && frac === '')) throw new SyntaxError(`not a decimal number: '${text}'`);
    const exp = Number(m[4] ?? '0');
    if (Math.abs(exp) > MAX_EXPONENT) throw new RangeError(`exponent out of range: '${text}'`);
    let num = BigInt((intPart || '0') + frac);
    if (m[1] === '-') num = -num;
    const scale = frac.length - exp;
    return scale >= 0 ? Decimal.fraction(num, pow10(scale)) : Decimal.fraction(num * pow10(-scale), 1n);
  }

  /** Accepts what specs carry: decimal strings, integers, or a Decimal. */
  static of(value: Decimal | string | number | bigint): Decimal {
    if (value instanceof Decimal) return value;
    if (typeof value === 'bigint') return new Decimal(value, 1n);
    if (typeof value === 'number') return Decimal.fromNumber(value);
    return Decimal.parse(value);
  }

  /**
   * The decimal a person reads for this double: its shortest round-trip form, so 0.1 is 1/10, not the
   * binary neighbour. This is what makes formatting floats free of "1.005 → 1.00" surprises.
   */
  static fromNumber(x: number): Decimal {
    if (!Number.isFinite(x)) throw new RangeError(`not a finite number: ${x}`);
    return Decimal.parse(String(x));
  }

  plus(o: Decimal): Decimal {
    return Decimal.fraction(this.num * o.den + o.num * this.den, this.den * o.den);
  }

  minus(o: Decimal): Decimal {
    return Decimal.fraction(this.num * o.den - o.num * this.den, this.den * o.den);
  }

  times(o: Decimal): Decimal {
    return Decimal.fraction(this.num * o.num, this.den * o.den);
  }

  div(o: Decimal): Decimal {
    if (o.num === 0n) throw new RangeError('division by zero');
    return Decimal.fraction(this.num * o.den, this.den * o.num);
  }

  neg(): Decimal {
    return new Decimal(-this.num, this.den);
  }

  abs(): Decimal {
    return this.num < 0n ? this.neg() : this;
  }

  sign(): -1 | 0 | 1 {
    return this.num < 0n ? -1 : this.num > 0n ? 1 : 0;
  }

  cmp(o: Decimal): -1 | 0 | 1 {
    const d = this.num * o.den - o.num * this.den;
    return d < 0n ? -1 : d > 0n ? 1 : 0;
  }

  eq(o: Decimal): boolean {
    return this.num === o.num && this.den === o.den;
  }

  /** Nearest double (correctly rounded when both parts fit in 53 bits, else via 20 significant digits). */
  toNumber(): number {
    const limit = 2n ** 53n;
    if (this.num < limit && -this.num < limit && this.den < limit) return Number(this.num) / Number(this.den);
    return Number(this.toFixed(20, 'halfEven'));
  }

  /** Rounds to `places` decimal places (negative places round to tens, hundreds...). */
  round(places: number, mode: RoundingMode = 'halfUp'): Decimal {
    const scale = places >= 0 ? pow10(places) : 1n;
    const coarse = places < 0 ? pow10(-places) : 1n;
    // Work in units of 10^-places: n = this * 10^places exactly as a fraction a/b.
    const a = this.num * scale;
    const b = this.den * coarse;
    const q = a / b; // truncated toward zero
    const r = a - q * b; // same sign as a
    let out = q;
    if (r !== 0n) {
      const negative = a < 0n;
      const twice = (r < 0n ? -r : r) * 2n;
      const away = negative ? q - 1n : q + 1n;
      switch (mode) {
        case 'down':
          break;
        case 'floor':
          out = negative ? q - 1n : q;
          break;
        case 'ceil':
          out = negative ? q : q + 1n;
          break;
        case 'halfUp':
          out = twice >= b ? away : q;
          break;
        case 'halfEven':
          out = twice > b || (twice === b && q % 2n !== 0n) ? away : q;
          break;
      }
    }
    return places >= 0 ? Decimal.fraction(out, scale) : Decimal.fraction(out * coarse, 1n);
  }

  /** Fixed-point text with exactly `places` decimals, rounded with `mode` (default half away from zero). */
  toFixed(places: number, mode: RoundingMode = 'halfUp'): string {
    if (!Number.isInteger(places) || places < 0 || places > 100)
      throw new RangeError(`bad places: ${places}`);
    const r = this.round(places, mode);
    const units = (r.num * pow10(places)) / r.den;
    const negative = units < 0n;
    const digits = (negative ? -units : units).toString().padStart(places + 1, '0');
    const body = places === 0 ? digits : `${digits.slice(0, -places)}.${digits.slice(-places)}`;
    return negative ? `-${body}` : body;
  }

  /** Exact text when the value has a finite decimal expansion, else 20 decimals (rounded half-even). */
  toString(): string {
    let d = this.den;
    let twos = 0;
    let fives = 0;
    while (d % 2n === 0n) {
      d /= 2n;
      twos++;
    }
    while (d % 5n === 0n) {
      d /= 5n;
      fives++;
    }
    if (d !== 1n) return this.toFixed(20, 'halfEven');
    return this.toFixed(Math.max(twos, fives));
  }
}
