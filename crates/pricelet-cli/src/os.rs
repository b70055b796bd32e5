//! The operating system's clock and random source.

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Anonymous ids when `--anon-id` is not given.
pub struct OsRandom;

impl pricelet::random::Random for OsRandom {
    fn next_u64(&mut self) -> u64 {
        getrandom::u64().expect("the operating system's random source works")
    }
}
