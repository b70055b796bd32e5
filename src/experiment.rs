//! Experiment assignment and exploration (docs/pricing.md "Experiment"): deterministic from (anonymous id, item,
//! time window) so that every quote is reproducible, with the propensity of the final price.

use crate::policy::Policy;
use crate::random::Random;
use base64::Engine as _;
use sha2::{Digest, Sha256};

crate::named_enum! {
    /// The experiment arm of a quote.
    pub enum Variant {
        Control = "control",
        Treatment = "treatment",
        /// Not in the experiment (no consent, opted out, excluded item).
        None = "none",
    }
}

/// A uniform draw in [0, 1) from SHA-256 of length-prefixed parts (53 bits, same on every platform).
pub fn uniform(parts: &[&str]) -> f64 {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p.as_bytes());
    }
    let d = h.finalize();
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    (u64::from_le_bytes(b) >> 11) as f64 / (1u64 << 53) as f64
}

/// A fresh random anonymous id: 128 bits of `rng` (on a device, `crypto.getRandomValues`).
pub fn new_anon_id(rng: &mut dyn Random) -> String {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&rng.next_u64().to_le_bytes());
    bytes[8..].copy_from_slice(&rng.next_u64().to_le_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub fn assign_variant(anon_id: &str, policy: &Policy) -> Variant {
    if uniform(&["pricelet/variant", anon_id]) < policy.experiment.control_percent.0.as_fraction() {
        Variant::Control
    } else {
        Variant::Treatment
    }
}

/// The exploration draw for (shopper, item, window): `Some(index)` into `n` candidates when this
/// quote explores.
pub fn exploration(
    anon_id: &str,
    item_id: &str,
    now_ms: i64,
    policy: &Policy,
    n: usize,
) -> Option<usize> {
    let window = now_ms
        .div_euclid(policy.experiment.exploration_window_ms)
        .to_string();
    let share = policy.experiment.exploration_percent.0.as_fraction();
    if n < 2 || uniform(&["pricelet/explore", anon_id, item_id, &window]) >= share {
        return None;
    }
    Some(
        ((uniform(&["pricelet/explore-pick", anon_id, item_id, &window]) * n as f64) as usize)
            .min(n - 1),
    )
}

/// Probability of showing candidate `shown` under the experiment, given the strategy's choice
/// `chosen` among `n` candidates (index 0 is list price):
/// `P = c·[shown = list] + (1 - c)·((1 - ε)·[shown = chosen] + ε / n)`.
pub fn propensity(policy: &Policy, shown: usize, chosen: usize, n: usize) -> f64 {
    let c = policy.experiment.control_percent.0.as_fraction();
    let eps = if n < 2 {
        0.0
    } else {
        policy.experiment.exploration_percent.0.as_fraction()
    };
    let list = f64::from(u8::from(shown == 0));
    let strat = f64::from(u8::from(shown == chosen));
    c * list + (1.0 - c) * ((1.0 - eps) * strat + eps / n as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_are_deterministic_and_uniform_enough() {
        assert_eq!(uniform(&["a", "b"]), uniform(&["a", "b"]));
        assert_ne!(
            uniform(&["ab", ""]),
            uniform(&["a", "b"]),
            "parts are length-prefixed"
        );
        let n = 20_000;
        let mean = (0..n).map(|i| uniform(&["t", &i.to_string()])).sum::<f64>() / n as f64;
        assert!((mean - 0.5).abs() < 0.01, "{mean}");
    }

    #[test]
    fn control_share_matches_the_policy() {
        let p = Policy::default_policy(); // 10 % control
        let control = (0..20_000)
            .filter(|i| assign_variant(&format!("id{i}"), &p) == Variant::Control)
            .count();
        assert!((1800..2200).contains(&control), "{control}");
    }

    #[test]
    fn exploration_rate_and_windows() {
        let p = Policy::default_policy(); // 5 % exploration, daily window
        let explored = (0..20_000)
            .filter(|i| exploration("shopper", &format!("item{i}"), 0, &p, 4).is_some())
            .count();
        assert!((800..1200).contains(&explored), "{explored}");
        let day = 86_400_000;
        let same: Vec<_> = (0..50)
            .map(|i| exploration("s", &format!("i{i}"), 1000, &p, 4))
            .collect();
        let again: Vec<_> = (0..50)
            .map(|i| exploration("s", &format!("i{i}"), day - 1, &p, 4))
            .collect();
        assert_eq!(same, again, "fixed within a window");
    }

    #[test]
    fn propensities_sum_to_one() {
        let p = Policy::default_policy();
        for n in 1..6 {
            for chosen in 0..n {
                let total: f64 = (0..n).map(|shown| propensity(&p, shown, chosen, n)).sum();
                assert!(
                    (total - 1.0).abs() < 1e-12,
                    "n={n} chosen={chosen} total={total}"
                );
            }
        }
        // list chosen, 5 candidates: 0.1 + 0.9 * (0.95 + 0.01)
        assert!((propensity(&p, 0, 0, 5) - (0.1 + 0.9 * 0.96)).abs() < 1e-12);
    }
}
