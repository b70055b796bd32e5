//! pricelet's collector (docs/measurement.md): the aggregator's side of the local-DP reports the
//! devices make (the core's `ldp`): tallies, de-biasing,
//! the A/B read-out, revenue per shopper, the price-response curve with a fitted β — every number
//! with a 95 % interval that includes both the privacy noise and sampling — and the planning maths
//! (how many shoppers a precision needs; the lab checks it by simulation on the real datasets).
//!
//! **Estimator.** Each report i gives a de-biased indicator vector x̂ᵢ over the domain:
//! OUE `x̂ᵢⱼ = (yᵢⱼ − q) / (p − q)` from its bits, GRR `x̂ᵢⱼ = ([ŷᵢ = j] − q) / (p − q)` from its
//! value. Their mean π̂ is an unbiased estimate of the share π of true values in each cell. Every
//! read-out is a smooth function g(π̂) (a ratio of two cell sums for a conversion rate, a root of the
//! logistic score equations for β), so its variance is, by the delta method, `∇gᵀ Σ ∇g / n` where
//! Σ is the covariance of one x̂ᵢ. The aggregator estimates Σ from the reports themselves (their bit
//! co-occurrence counts), which captures the privacy noise and the sampling of shoppers at once; the
//! planner uses the exact Σ of a known π:
//!
//! * OUE: `Σ = diag(π) − ππᵀ + diag(v) / (p − q)²` with `vⱼ = πⱼ p(1 − p) + (1 − πⱼ) q(1 − q)`;
//! * GRR: `Σ = (diag(ρ) − ρρᵀ) / (p − q)²` with `ρ = q + (p − q) π`;
//! * no privacy: `Σ = diag(π) − ππᵀ`.

mod beta;
mod estimate;
mod propose;
mod readout;

pub use beta::{fit_beta, BetaFit};
pub use estimate::*;
pub use propose::{
    break_even_beta, guardrails_verdict, loop_version, propose, Action, Evidence, Proposal, Turn,
};
pub use readout::*;

/// The lab's generator (SplitMix64) as a seeded stream, so the tests' simulated reports are fixed.
#[cfg(test)]
fn seeded(seed: u64) -> impl FnMut() -> u64 {
    use rand_core::{Rng as _, SeedableRng};
    let mut g = rand_xoshiro::SplitMix64::seed_from_u64(seed);
    move || g.next_u64()
}
