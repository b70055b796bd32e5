// The policy's arithmetic that bounds and places a discounted price, in plain JavaScript: percents
// as parts per million, an item's cap, and the candidate nearest a discount step's target among the
// price endings. Shared by the floor and reference pricers (bench/reference.mjs) and the
// plain-JavaScript Worker. Benchmark-only code.

/** A percent as parts per million (the engine's exact unit). */
export const ppm = (percent) => Math.round(Number(percent) * 10_000);

/** The largest discount `item` may get, in ppm: its category's cap if tighter than the global one. */
export function capPpm(policy, item) {
  const global = ppm(policy.caps.globalPercent);
  const own = item.category ? policy.caps.categoryPercent?.[item.category] : undefined;
  return own === undefined ? global : Math.min(ppm(own), global);
}

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
