// Numbers as the console writes them: fixed decimals, en-US grouping (the same on every machine, so
// a test can read them back), intervals in brackets, and the reports a ±1-point read-out needs.

const group = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

export const count = (n) => (n === null || n === undefined ? '—' : group.format(Math.round(n)));
export const pct = (x, digits = 1) => (x === null || x === undefined ? '—' : `${(100 * x).toFixed(digits)} %`);
export const points = (x, digits = 1) => (x === null || x === undefined ? '—' : `${x >= 0 ? '+' : '−'}${Math.abs(100 * x).toFixed(digits)} pts`);
export const beta = (b) => (b === null || b === undefined || !Number.isFinite(b) ? '—' : b.toFixed(2));

/** `12.3 % [10.1, 14.5]` (an Estimate { estimate, lo, hi } as percentages). */
export const pctCI = (e) => (e ? `${pct(e.estimate)} [${(100 * e.lo).toFixed(1)}, ${(100 * e.hi).toFixed(1)}]` : '—');
export const pointsCI = (e) => (e ? `${points(e.estimate)} [${signed(100 * e.lo)}, ${signed(100 * e.hi)}]` : '—');
export const betaCI = (e) => (e ? `${beta(e.estimate)} [${beta(e.lo)}, ${beta(e.hi)}]` : '—');
const signed = (v) => `${v >= 0 ? '+' : '−'}${Math.abs(v).toFixed(1)}`;

/** A time as the merchant's browser shows it, to the minute. */
export const time = (ms) => new Date(ms).toLocaleString('en-GB', { dateStyle: 'medium', timeStyle: 'short' });

/** `1 h 59 min`, `3 min`, `40 s`. */
export function duration(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m} min`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

/**
 * Reports a 95 % read-out of ± `halfWidth` needs, from an estimate made of `n` reports: the
 * planner's n = (1.96 / h)² · ∇gᵀ Σ ∇g (docs/measurement.md), with ∇gᵀ Σ ∇g read off the estimate's
 * own variance (se² = ∇gᵀ Σ̂ ∇g / n). So it is at this ε, this mechanism and this traffic mix.
 */
export function reportsNeeded(estimate, n, halfWidth = 0.01) {
  if (!estimate || !(estimate.se > 0) || !(n > 0)) return null;
  return Math.ceil(n * ((1.96 * estimate.se) / halfWidth) ** 2);
}
