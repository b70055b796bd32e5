//! Randomness, injected: the core draws from a [`Random`] it is given and never asks the OS.

/// A source of uniformly random 64-bit words. Privacy rests on it: on a device it is the platform's
/// cryptographic source (`crypto.getRandomValues`, supplied by the wasm binding); seeded
/// generators are for tests and simulations only.
pub trait Random {
    fn next_u64(&mut self) -> u64;
}

impl<F: FnMut() -> u64> Random for F {
    fn next_u64(&mut self) -> u64 {
        self()
    }
}

/// A uniform draw in [0, 1) with 53 random bits.
pub fn uniform<R: Random + ?Sized>(rng: &mut R) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// A uniform draw in `0..n` (n > 0) without modulo bias (Lemire's multiply-shift with rejection).
pub fn below<R: Random + ?Sized>(rng: &mut R, n: usize) -> usize {
    let n = n as u64;
    let threshold = n.wrapping_neg() % n;
    loop {
        let m = u128::from(rng.next_u64()) * u128::from(n);
        if (m as u64) >= threshold {
            return (m >> 64) as usize;
        }
    }
}
