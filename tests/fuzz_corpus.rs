//! Replays the fuzz corpus (seeds and every input that once crashed) through the same harnesses
//! the fuzzer runs (crates/pricelet-harness), on stable, as a regression test.

use std::path::Path;

#[test]
fn every_corpus_input_passes_its_harness() {
    let root = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .join("fuzz")
        .join("corpus");
    let mut replayed = 0;
    for (name, harness) in pricelet_harness::ALL {
        let dir = root.join(name);
        let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let mut n = 0;
        for entry in entries {
            let path = entry.unwrap().path();
            let data = std::fs::read(&path).unwrap();
            let outcome = std::panic::catch_unwind(|| harness(&data));
            assert!(
                outcome.is_ok(),
                "{name}: {} makes the harness panic",
                path.display()
            );
            n += 1;
        }
        assert!(n > 0, "{name}: the corpus is empty");
        replayed += n;
    }
    println!("replayed {replayed} corpus inputs");
}
