#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| pricelet_harness::policy_parsing(data));
