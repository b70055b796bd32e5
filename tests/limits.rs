//! Every limit of `src/limits.rs`, hit once through the public engine API: just over the limit is
//! refused with `limit_exceeded` naming the field, just at the limit is accepted (nothing is truncated
//! silently). The model limits (file bytes, input width) are hit in tests/models.rs
//! (`loading_enforces_the_model_contract`); the Worker's body and item caps in tests/js/worker.test.mjs.

mod common;

use common::{config, js, new_pricer};
use pricelet::limits::*;
use pricelet::scorer::ModelKind;
use pricelet::JsonPricer;
use pricelet::{Clock, Code, Consent, ModelSlot, Policy, Pricer};
use serde_json::{json, Value};

const NOW: i64 = 1_795_950_000_000;
const CLOCK: Clock = Clock {
    now_ms: NOW,
    utc_offset_minutes: 0,
};

fn pricer() -> Pricer {
    // No model: limits are checked before any inference, and list prices are enough here.
    new_pricer(
        Policy::default_policy(),
        ModelSlot::Absent,
        None,
        config(Consent::Granted),
    )
}

fn item() -> Value {
    json!({"id": "sneaker-1", "price": "89.99", "currency": "EUR", "category": "shoes"})
}

fn with(mut v: Value, key: &str, value: Value) -> Value {
    v[key] = value;
    v
}

fn assert_limit<T: std::fmt::Debug>(what: &str, r: pricelet::error::Result<T>, field: &str) {
    let e = r.expect_err(what);
    assert_eq!(e.code, Code::LimitExceeded, "{what}: {e}");
    assert_eq!(e.field.as_deref(), Some(field), "{what}: {e}");
    assert!(
        e.message.contains("exceeds the limit"),
        "{what}: the message says what to do: {e}"
    );
}

#[test]
fn item_limits() {
    let mut p = pricer();
    let at = |n: usize| "x".repeat(n);
    let cases = [
        ("id", json!(at(MAX_ID_LEN)), json!(at(MAX_ID_LEN + 1))),
        (
            "category",
            json!(at(MAX_NAME_LEN)),
            json!(at(MAX_NAME_LEN + 1)),
        ),
        (
            "tags",
            json!(vec!["t"; MAX_TAGS]),
            json!(vec!["t"; MAX_TAGS + 1]),
        ),
        (
            "tags[0]",
            json!([at(MAX_NAME_LEN)]),
            json!([at(MAX_NAME_LEN + 1)]),
        ),
    ];
    for (field, ok, over) in cases {
        let key = field.split('[').next().unwrap();
        p.price_for(&with(item(), key, ok), &CLOCK)
            .unwrap_or_else(|e| panic!("{field} at the limit is accepted: {e}"));
        assert_limit(field, p.price_for(&with(item(), key, over), &CLOCK), field);
    }
}

#[test]
fn batch_limits() {
    let mut p = pricer();
    let full = vec![item(); MAX_ITEMS_PER_BATCH];
    assert_eq!(
        p.prices_for(&full, &CLOCK).unwrap().len(),
        MAX_ITEMS_PER_BATCH
    );
    let over = vec![item(); MAX_ITEMS_PER_BATCH + 1];
    assert_limit("pricesFor", p.prices_for(&over, &CLOCK), "items");
    assert_limit("edgeRequest", p.edge_request(&over, &CLOCK), "items");
}

#[test]
fn event_limits() {
    let mut p = pricer();
    let long = |n: usize| "x".repeat(n);
    let cart = |id: String| json!({"type": "add_to_cart", "at": NOW, "itemId": id});
    let view =
        |id: String| json!({"type": "page_view", "at": NOW, "page": {"kind": "product", "id": id}});
    let cat = |c: String| json!({"type": "add_to_cart", "at": NOW, "itemId": "a", "category": c});
    let cases: [(&str, Value, Value); 3] = [
        ("itemId", cart(long(MAX_ID_LEN)), cart(long(MAX_ID_LEN + 1))),
        (
            "page.id",
            view(long(MAX_ID_LEN)),
            view(long(MAX_ID_LEN + 1)),
        ),
        (
            "category",
            cat(long(MAX_NAME_LEN)),
            cat(long(MAX_NAME_LEN + 1)),
        ),
    ];
    for (field, ok, over) in cases {
        p.track_json(&ok, &CLOCK)
            .unwrap_or_else(|e| panic!("{field} at the limit is accepted: {e}"));
        let before = p.export_data();
        assert_limit(field, p.track_json(&over, &CLOCK), field);
        assert_eq!(
            p.export_data(),
            before,
            "{field}: a refused event changes nothing"
        );
    }
}

#[test]
fn the_log_is_bounded_by_eviction_not_refusal() {
    // The behaviour log is the one bounded store that evicts instead of refusing: a shopper's newest
    // events always count, the oldest go first, and the status says how many went.
    let mut p = pricer();
    for i in 0..MAX_EVENTS + 10 {
        let ev = json!({"type": "page_view", "at": NOW - 60_000 + i as i64,
            "page": {"kind": "product", "id": format!("p{i}")}});
        p.track_json(&ev, &CLOCK).unwrap();
    }
    let state = p.state_to_save().expect("consent granted: a state to save");
    assert!(state.len() <= MAX_STATE_BYTES);
    let saved: Value = serde_json::from_str(&state).unwrap();
    let events = saved["events"].as_array().unwrap();
    assert_eq!(events.len(), MAX_EVENTS);
    assert_eq!(
        events.last().unwrap()["page"]["id"],
        json!(format!("p{}", MAX_EVENTS + 9)),
        "the newest event is kept"
    );
    // A stored state over the byte limit is discarded on load with a reason; pricing continues.
    let mut p = pricer();
    p.load_state(Some(&" ".repeat(MAX_STATE_BYTES + 1)), NOW);
    let status = js(p.status());
    assert_eq!(status["state"]["outcome"], json!("discarded"), "{status}");
    assert!(status["state"]["reason"]
        .as_str()
        .unwrap()
        .contains("over the"));
    assert!(p.price_for(&item(), &CLOCK).is_ok());
}

#[test]
fn policy_limits() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../policy/default.json"
    ))
    .unwrap();
    let base: Value = serde_json::from_str(&text).unwrap();
    let set = |path: &[&str], v: Value| {
        let mut p = base.clone();
        let mut at = &mut p;
        for k in &path[..path.len() - 1] {
            at = &mut at[*k];
        }
        at[*path.last().unwrap()] = v;
        p
    };
    let rules = |n: usize| json!((0..n).map(|i| format!("i{i}")).collect::<Vec<_>>());
    let label = |n: usize| json!("x".repeat(n));
    let version = |n: usize| json!("v".repeat(n));
    let cases = [
        (
            "exclusions.itemIds",
            set(&["exclusions", "itemIds"], rules(MAX_POLICY_RULES)),
            set(&["exclusions", "itemIds"], rules(MAX_POLICY_RULES + 1)),
        ),
        (
            "disclosure.labels.default",
            set(&["disclosure", "labels", "default"], label(MAX_TEXT_LEN)),
            set(
                &["disclosure", "labels", "default"],
                label(MAX_TEXT_LEN + 1),
            ),
        ),
        (
            "version",
            set(&["version"], version(MAX_NAME_LEN)),
            set(&["version"], version(MAX_NAME_LEN + 1)),
        ),
    ];
    for (field, ok, over) in cases {
        Policy::from_json(&ok).unwrap_or_else(|e| panic!("{field} at the limit is accepted: {e}"));
        assert_limit(field, Policy::from_json(&over), field);
    }
    // The document itself: whitespace padding past the byte limit is refused before parsing.
    let padded = format!("{text}{}", " ".repeat(MAX_POLICY_BYTES));
    let e = Policy::from_json_str(&padded).unwrap_err();
    assert_eq!(e.code, Code::LimitExceeded, "{e}");
}

#[test]
fn model_bytes_over_the_limit_are_refused_before_parsing() {
    // Through the engine's model slot: the pricer keeps running on list prices and says why.
    match pricelet_onnx::slot(Some(&vec![0u8; MAX_MODEL_BYTES + 1]), ModelKind::Interest) {
        ModelSlot::Unavailable(why) => assert!(why.contains("exceeds the limit"), "{why}"),
        _ => panic!("an oversized model must be unavailable"),
    }
}
