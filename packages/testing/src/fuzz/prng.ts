// A small seeded generator for the fuzzer: every mutated case is a pure function of its case id, so an id
// printed by a campaign rebuilds the exact bytes on any machine (Math.random would not).

/** FNV-1a of a string, for turning a case id into a generator seed. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** mulberry32: 32 bits of state, fast, and good enough to pick mutations (not for cryptography). */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** a uniform 32-bit unsigned integer */
  u32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** uniform in [0, 1) */
  float(): number {
    return this.u32() / 2 ** 32;
  }

  /** an integer in [0, n); n ≥ 1 */
  int(n: number): number {
    return Math.floor(this.float() * n);
  }

  /** an integer in [lo, hi] */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  chance(p: number): boolean {
    return this.float() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error("Rng.pick: no items");
    return items[this.int(items.length)] as T;
  }

  /** a size skewed towards small values (most useful mutations are small), up to `max` */
  small(max: number): number {
    return Math.min(max, Math.floor(2 ** (this.float() * Math.log2(max + 1))));
  }

  /** `n` random bytes */
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.u32() & 0xff;
    return out;
  }
}
