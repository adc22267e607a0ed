// A small seeded PRNG for the data generators. Generated corpora must be reproducible from a seed on every
// platform and Node version, which Math.random is not; mulberry32 is 32-bit integer arithmetic only.

/** A seeded pseudo-random source (mulberry32). Not for cryptography. */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** An integer in [lo, hi], both included. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** One element of a non-empty list, uniformly. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError("Rng.pick: empty list");
    return items[this.int(items.length)] as T;
  }

  /** One element of a non-empty list other than those in `not` (falls back to any element if all are excluded). */
  pickOther<T>(items: readonly T[], not: readonly T[]): T {
    const rest = items.filter((x) => !not.includes(x));
    return this.pick(rest.length > 0 ? rest : items);
  }
}

/**
 * A seed for item `index` of a stream seeded with `seed` (a splitmix32-style hash), so any item can be regenerated
 * alone and a stream of n items is a prefix of a stream of n + 1.
 */
export function itemSeed(seed: number, index: number): number {
  let h = (Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(index >>> 0, 0x85ebca77)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x21f0aaad);
  h = Math.imul(h ^ (h >>> 15), 0x735a2d97);
  return (h ^ (h >>> 15)) >>> 0;
}
