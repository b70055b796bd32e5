// A small seeded generator (mulberry32) for simulated shoppers' choices in the console demo and
// the Worker tests: reproducible runs. Never for a report's noise (devices use their CSPRNG).

/** A function returning uniform numbers in [0, 1), the same sequence for the same `seed`. */
export function seededRandom(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
