// The price a discount step lands on, in plain JavaScript: the candidate nearest the step's target
// among the policy's price endings, inside [lo, hi]. Shared by the floor and reference pricers
// (bench/reference.mjs) and the plain-JavaScript Worker. Benchmark-only code.

/**
 * `target` in millionths of a minor unit; `endings` as [modulus, remainder] pairs in minor units.
 * Returns the nearest price (ties: the higher), or null when no ending fits in [lo, hi].
 */
export function priceNear(target, lo, hi, endings) {
  let best = null;
  for (const [mod, rem] of endings) {
    const below = (x) => Math.floor((x - rem) / mod) * mod + rem;
    const above = (x) => { const b = below(x); return b === x ? x : b + mod; };
    const ft = Math.min(Math.max(Math.floor(target / 1e6), lo), hi);
    const ct = Math.min(Math.max(Math.ceil(target / 1e6), lo), hi);
    for (const q of [below(ft), above(ct), above(lo), below(hi)]) {
      if (q < lo || q > hi) continue;
      const d = Math.abs(q * 1e6 - target);
      if (!best || d < best[0] || (d === best[0] && q > best[1])) best = [d, q];
    }
  }
  return best && best[1];
}
