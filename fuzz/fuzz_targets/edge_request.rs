#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| pricelet_harness::edge_request(data));
