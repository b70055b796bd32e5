// The shipped interest model evaluated in plain JavaScript: its TreeEnsembleRegressor walked from
// arrays read once from the ONNX file (bench/reference.mjs `readForest`), then Sigmoid and Clip.
// Shared by the floor pricer (bench/reference.mjs) and the plain-JavaScript Worker that
// `npm run bench:worker` runs beside pricelet's. Benchmark-only code.

/** `x` (numbers, one per model feature) → interest. */
export function forestOf({ feature, threshold, next, leaf, isLeaf, roots, base, lo, hi }) {
  const f = Int32Array.from(feature);
  const t = Float64Array.from(threshold);
  const n = Int32Array.from(next);
  const v = Float64Array.from(leaf);
  const l = Uint8Array.from(isLeaf);
  const r = Int32Array.from(roots);
  return (x) => {
    let z = base;
    for (let i = 0; i < r.length; i += 1) {
      let k = r[i];
      // The model compares float32 inputs with float32 thresholds.
      while (!l[k]) k = Math.fround(x[f[k]]) <= t[k] ? n[2 * k] : n[2 * k + 1];
      z += v[k];
    }
    return Math.min(Math.max(1 / (1 + Math.exp(-Math.fround(z))), lo), hi);
  };
}
