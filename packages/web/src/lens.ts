// The lens view's labels and shades, apart from the component so the tests check them in Node.

/** "blocks.3.hook_resid_pre" → "L3 pre"; "blocks.11.hook_resid_post" → "L11 post". */
export function streamLabel(name: string): string {
  const m = /^blocks\.(\d+)\.hook_resid_(pre|mid|post)$/.exec(name);
  return m === null ? name : `L${m[1]} ${m[2]}`;
}

/** A rank shown as a colour: rank 0 is the darkest, rank 99 and beyond nearly white. */
export const rankShade = (rank: number) => 1 - Math.min(1, Math.log10(1 + rank) / 2);
