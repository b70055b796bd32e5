//! The platform's cryptographic random source (`crypto.getRandomValues` through getrandom's
//! `wasm_js` backend): the core's [`Random`] on a device. Privacy rests on it.

use pricelet::error::{Code, Error, Result};
use pricelet::random::Random;

#[derive(Debug)]
pub struct OsRandom {
    buf: [u64; 32],
    pos: usize,
}

impl OsRandom {
    /// Fails when no secure random source is available (then no pricer can draw an id).
    pub fn new() -> Result<OsRandom> {
        let mut r = OsRandom {
            buf: [0; 32],
            pos: 32,
        };
        r.refill()?;
        Ok(r)
    }

    fn refill(&mut self) -> Result<()> {
        let mut bytes = [0u8; 256];
        getrandom::fill(&mut bytes)
            .map_err(|e| Error::new(Code::Internal, format!("no secure random source: {e}")))?;
        for (w, chunk) in self.buf.iter_mut().zip(bytes.chunks_exact(8)) {
            let mut b = [0u8; 8];
            b.copy_from_slice(chunk);
            *w = u64::from_le_bytes(b);
        }
        self.pos = 0;
        Ok(())
    }
}

impl Random for OsRandom {
    fn next_u64(&mut self) -> u64 {
        if self.pos == self.buf.len() {
            // The source worked when this was created; a later failure of getrandom is not something
            // a report can recover from, and a predictable fallback would break the guarantee.
            self.refill()
                .expect("the secure random source failed after it had worked");
        }
        self.pos += 1;
        self.buf[self.pos - 1]
    }
}
