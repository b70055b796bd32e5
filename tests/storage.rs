//! Storage shared by two tabs of one shop: each merges before it writes; a forget() or an opt-out
//! in one tab is never undone by another.

mod common;

use common::*;
use pricelet::scorer::ModelKind;
use pricelet::{Consent, ModelSlot, Policy, Pricer, PricerConfig};
use serde_json::{json, Value};

/// Two tabs of one shop share one storage and never see each other's writes as they happen. Each
/// writes through `sync` (re-read, merge, write), as the wasm binding does on every `track()`.
struct Tab {
    p: Pricer,
}

impl Tab {
    fn open(shared: &Option<String>) -> Tab {
        let model = pricelet_onnx::slot(Some(&model_bytes()), ModelKind::Interest);
        let config = PricerConfig {
            anon_id: None,
            ..config(Consent::Granted)
        };
        let p = Pricer::new(
            Policy::default_policy(),
            model,
            ModelSlot::Absent,
            shared.as_deref(),
            config,
            NOW,
            test_rng(),
        )
        .unwrap();
        Tab { p }
    }

    fn write(&mut self, shared: &mut Option<String>) {
        self.p.sync(shared.as_deref(), NOW);
        let state = self.p.state_to_save();
        *shared = state.clone();
        self.p.saved(state);
    }

    fn track(&mut self, shared: &mut Option<String>, page: &str) {
        let ev =
            json!({"type": "page_view", "at": NOW - 1000, "page": {"kind": "product", "id": page}});
        assert!(self.p.track(&ev, &clock(0)).unwrap().stored);
        self.write(shared);
    }
}

fn stored_pages(shared: &Option<String>) -> Vec<String> {
    let Some(s) = shared else { return vec![] };
    let v: Value = serde_json::from_str(s).unwrap();
    v["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["page"]["id"].as_str().unwrap().to_string())
        .collect()
}

fn stored_anon(shared: &Option<String>) -> Option<String> {
    let v: Value = serde_json::from_str(shared.as_ref()?).unwrap();
    v["anonId"].as_str().map(str::to_string)
}

#[test]
fn two_tabs_on_one_storage_keep_each_others_events_and_forget_wins() {
    let mut shared = None;
    let (mut a, mut b) = (Tab::open(&shared), Tab::open(&shared));
    for i in 0..5 {
        a.track(&mut shared, &format!("a{i}"));
        b.track(&mut shared, &format!("b{i}"));
    }
    let mut pages = stored_pages(&shared);
    pages.sort();
    assert_eq!(
        pages,
        ["a0", "a1", "a2", "a3", "a4", "b0", "b1", "b2", "b3", "b4"],
        "no tab lost the other's events"
    );
    assert_eq!(
        a.p.anon_id(),
        b.p.anon_id(),
        "one shopper, one anonymous id"
    );
    assert_eq!(stored_anon(&shared).as_deref(), Some(a.p.anon_id()));
    let old_id = a.p.anon_id().to_string();
    // forget() in A (the binding erases the store); B's next track must not bring anything back.
    a.p.forget();
    shared = None;
    b.track(&mut shared, "after");
    assert_eq!(
        stored_pages(&shared),
        ["after"],
        "the forgotten events stay forgotten"
    );
    assert_ne!(
        stored_anon(&shared).unwrap(),
        old_id,
        "and so does the old anonymous id"
    );
    assert_eq!(status(&b.p)["events"], 1);
    // A, which forgot, then tracks: it joins B's new state rather than starting a third one.
    a.track(&mut shared, "a-after");
    assert_eq!(stored_pages(&shared).len(), 2);
    assert_eq!(a.p.anon_id(), b.p.anon_id());
    // Consent withdrawn in A erases storage too: B drops what it had from storage.
    a.p.set_consent(Consent::Denied);
    shared = None;
    b.track(&mut shared, "later");
    assert_eq!(stored_pages(&shared), ["later"]);
    // If A forgets and writes again before B does, B sees another anonymous id: the same rule.
    let mut c = Tab::open(&shared);
    c.track(&mut shared, "c");
    assert_eq!(stored_pages(&shared), ["later", "c"]);
    c.p.forget();
    shared = None;
    c.track(&mut shared, "c-new");
    b.track(&mut shared, "b-new");
    assert_eq!(stored_pages(&shared), ["c-new", "b-new"]);
    assert_eq!(b.p.anon_id(), c.p.anon_id());
}

/// A tab that only *reads* another tab's write (the browser's `storage` event) still notices a
/// later erase: what it read is remembered, not just what it wrote.
#[test]
fn a_tab_that_only_read_the_shared_state_still_honours_a_later_forget() {
    let mut shared = None;
    let (mut a, mut b) = (Tab::open(&shared), Tab::open(&shared));
    b.track(&mut shared, "b");
    a.track(&mut shared, "a");
    b.p.sync(shared.as_deref(), NOW); // the storage event: B reads A's write
    assert_eq!(status(&b.p)["events"], 2);
    a.p.forget();
    shared = None;
    b.p.sync(None, NOW); // the storage event of the erase
    assert_eq!(
        status(&b.p)["events"],
        0,
        "B dropped the forgotten events at once"
    );
    b.track(&mut shared, "b2");
    assert_eq!(stored_pages(&shared), ["b2"]);
}
