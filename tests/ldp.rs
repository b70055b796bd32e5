//! The device's local-DP randomizers deliver their stated ε, and version-2 reports carry their
//! explore step. The collector's estimates are tested in pricelet-measure.

use pricelet::ldp::{self, Mechanism, Payload};
use pricelet_lab::rng::Rng as SplitMix64;

/// χ² quantile 0.999 for 40 degrees of freedom.
const CHI2_40_999: f64 = 73.402;

fn chi2_bits(ones: &[u64], n: u64, truth: usize, p: f64, q: f64) -> f64 {
    ones.iter()
        .enumerate()
        .map(|(j, &c)| {
            let pr = if j == truth { p } else { q };
            let e = n as f64 * pr;
            (c as f64 - e).powi(2) / (e * (1.0 - pr))
        })
        .sum()
}

#[test]
fn oue_bits_have_the_stated_frequencies_and_likelihood_ratio() {
    let (d, eps, n) = (40, 2.0, 200_000u64);
    let (p, q) = Mechanism::Oue.probabilities(eps, d);
    assert_eq!(p, 0.5);
    assert!((q - 1.0 / (eps.exp() + 1.0)).abs() < 1e-15);
    let mut rng = SplitMix64::new(20261129);
    let (t, u) = (5usize, 17usize);
    // Outcomes of the two coordinates that differ between the inputs t and u: (bit t, bit u).
    let mut pair = [[0u64; 4]; 2];
    let mut ones = [vec![0u64; d], vec![0u64; d]];
    for (k, input) in [t, u].into_iter().enumerate() {
        for _ in 0..n {
            let Payload::Bits(bits) = ldp::randomize(input, d, Mechanism::Oue, eps, &mut rng)
            else {
                panic!("OUE gives bits")
            };
            for &j in &bits {
                ones[k][j] += 1;
            }
            let (bt, bu) = (bits.contains(&t), bits.contains(&u));
            pair[k][usize::from(bt) * 2 + usize::from(bu)] += 1;
        }
    }
    let chi_t = chi2_bits(&ones[0], n, t, p, q);
    let chi_u = chi2_bits(&ones[1], n, u, p, q);
    assert!(
        chi_t < CHI2_40_999 && chi_u < CHI2_40_999,
        "χ² {chi_t} {chi_u}"
    );
    // The same counts are clearly rejected against a randomizer with ε + 0.1 (the test has power).
    let (_, q_wrong) = Mechanism::Oue.probabilities(eps + 0.1, d);
    assert!(chi2_bits(&ones[0], n, t, p, q_wrong) > 10.0 * CHI2_40_999);
    // Empirical likelihood ratios of every outcome of the differing coordinates: at most e^ε, and
    // the largest one is e^ε (the bound is attained: no privacy is wasted, none is missing).
    let ratios: Vec<f64> = (0..4)
        .map(|o| pair[0][o] as f64 / pair[1][o] as f64)
        .flat_map(|r| [r, 1.0 / r])
        .collect();
    let max = ratios.iter().cloned().fold(0.0, f64::max);
    assert!(
        max <= eps.exp() * 1.05,
        "largest ratio {max} vs e^ε {}",
        eps.exp()
    );
    assert!(
        max >= eps.exp() * 0.95,
        "largest ratio {max} vs e^ε {}",
        eps.exp()
    );
}

#[test]
fn grr_values_have_the_stated_frequencies_and_likelihood_ratio() {
    let (d, eps, n) = (40, 3.0, 200_000u64);
    let (p, q) = Mechanism::Grr.probabilities(eps, d);
    assert!((p / q - eps.exp()).abs() < 1e-9);
    let mut rng = SplitMix64::new(7);
    let mut counts = [vec![0u64; d], vec![0u64; d]];
    for (k, input) in [3usize, 30].into_iter().enumerate() {
        for _ in 0..n {
            let Payload::Value(v) = ldp::randomize(input, d, Mechanism::Grr, eps, &mut rng) else {
                panic!("GRR gives a value")
            };
            counts[k][v] += 1;
        }
    }
    // χ² over the 40 categories (39 degrees of freedom; the 40-dof quantile is conservative).
    let chi: f64 = (0..d)
        .map(|j| {
            let e = n as f64 * if j == 3 { p } else { q };
            (counts[0][j] as f64 - e).powi(2) / e
        })
        .sum();
    assert!(chi < CHI2_40_999, "χ² {chi}");
    let ratio = |o: usize| counts[0][o] as f64 / counts[1][o] as f64;
    assert!((ratio(3) / eps.exp() - 1.0).abs() < 0.05, "{}", ratio(3));
    assert!((ratio(30) * eps.exp() - 1.0).abs() < 0.05, "{}", ratio(30));
    for o in (0..d).filter(|&o| o != 3 && o != 30) {
        assert!((ratio(o) - 1.0).abs() < 0.15, "value {o}: {}", ratio(o));
    }
}
