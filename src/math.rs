//! The few functions of probability the pricing and the estimators share.

/// Interests are clamped away from 0 and 1 before `logit`.
pub const INTEREST_CLAMP: f64 = 1e-4;

/// An interest clamped to [1e-4, 1 − 1e-4].
pub fn clamp_probability(r: f64) -> f64 {
    r.clamp(INTEREST_CLAMP, 1.0 - INTEREST_CLAMP)
}

/// ln(p / (1 − p)).
pub fn logit(p: f64) -> f64 {
    libm::log(p / (1.0 - p))
}

/// 1 / (1 + e^−x).
pub fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + libm::exp(-x))
}
