//! pricelet's fuzz harnesses: one function per untrusted input, shared by the `cargo fuzz` targets
//! (fuzz/) and the corpus replay in `cargo test` (tests/fuzz_corpus.rs). Each takes arbitrary bytes and must
//! never panic; each also checks the invariants that must hold whatever the input.

use pricelet::ldp::Report;
use pricelet::policy::{Policy, Retention};
use pricelet::pricer::{Consent, EdgeRequest, PriceSlot, Pricer, PricerConfig};
use pricelet::quote::{Quantity, VerifyOptions};
use pricelet::scorer::{ModelKind, ModelSlot};
use pricelet::state::{self, LoadOutcome};
use pricelet::time::Clock;
use pricelet::wire::checkout::verify_quote;
use pricelet::Item;
use pricelet::JsonPricer;
use pricelet_measure::{add_report, propose, readout, Expected, Tally, Turn};
use pricelet_onnx::Model;
use serde_json::Value;
use std::collections::BTreeMap;

const NOW: i64 = 1_795_950_000_000;
const CLOCK: Clock = Clock {
    now_ms: NOW,
    utc_offset_minutes: 0,
};
const MODEL: &[u8] = include_bytes!("../../../models/interest.onnx");

/// A fixed generator: the harnesses check invariants, not randomness.
fn rng() -> Box<dyn pricelet::random::Random> {
    let mut x = 0u64;
    Box::new(move || {
        x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
        x
    })
}

fn json(data: &[u8]) -> Option<Value> {
    serde_json::from_slice(data).ok()
}

thread_local! {
    // Loading and optimizing the model takes milliseconds: one pricer per thread, emptied per input.
    static PRICER: std::cell::RefCell<Pricer> = std::cell::RefCell::new({
        let config = PricerConfig { consent: Consent::Granted, gpc_opt_out: false, anon_id: Some("fuzz".into()), stability_ttl_ms: Some(0) };
        Pricer::new(Policy::default_policy(), pricelet_onnx::slot(Some(MODEL), ModelKind::Interest), ModelSlot::Absent, None, config, NOW, rng())
            .expect("the bundled model and policy load")
    });
}

fn with_pricer<R>(f: impl FnOnce(&mut Pricer) -> R) -> R {
    PRICER.with(|p| {
        let mut p = p.borrow_mut();
        p.load_state(None, NOW);
        f(&mut p)
    })
}

/// Item parsing and pricing: a quote is exact and within the policy's bounds, or a typed error.
pub fn item_pricing(data: &[u8]) {
    let Some(v) = json(data) else { return };
    with_pricer(|p| {
        let items = match &v {
            Value::Array(a) => a.clone(),
            other => vec![other.clone()],
        };
        let Ok(out) = p.prices_for(&items, &CLOCK) else {
            return;
        };
        for (slot, raw) in out.iter().zip(&items) {
            let PriceSlot::Quote(q) = slot else { continue };
            let item = Item::from_json(raw).expect("a priced item parses");
            let (list, price) = (q.list_price_minor, q.price_minor);
            assert_eq!(list, item.list_minor);
            assert_eq!(q.discount_minor, list - price);
            assert!(price <= list && price >= 0, "{q:?}");
            let slot = q.to_checkout();
            let v = verify_quote(
                &slot,
                &item,
                p.policy(),
                &VerifyOptions {
                    now_ms: NOW,
                    ..Default::default()
                },
            );
            assert!(
                v.ok,
                "a quote the engine made must verify: {:?} {slot}",
                v.problems
            );
        }
    })
}

/// Event tracking: a bad event changes nothing; a good one is kept and the state round-trips.
pub fn event_tracking(data: &[u8]) {
    let Some(v) = json(data) else { return };
    with_pricer(|p| {
        let before = p.state_to_save();
        match p.track_json(&v, &CLOCK) {
            Err(_) => assert_eq!(
                p.state_to_save(),
                before,
                "a refused event leaves the log unchanged"
            ),
            Ok(_) => {
                let state = p.state_to_save().expect("consent granted stores state");
                let (stored, report) = state::read(
                    Some(&state),
                    NOW,
                    Retention {
                        behaviour_days: 30,
                        purchase_days: 730,
                    },
                );
                assert_eq!(report.outcome, LoadOutcome::Loaded, "{state}");
                assert_eq!(
                    state::write(
                        &stored.log,
                        stored.anon_id.as_deref(),
                        &stored.report_budget,
                        stored.shown.as_ref()
                    ),
                    state,
                    "the stored state round-trips exactly"
                );
            }
        }
    })
}

/// Policy parsing: valid policies re-validate from their own JSON; invalid ones name a field.
pub fn policy_parsing(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Policy::from_json_str(text) {
        Ok(p) => assert_eq!(Policy::from_json(&p.to_json()).as_ref(), Ok(&p)),
        Err(e) => assert!(!e.message.is_empty()),
    }
}

/// Stored state: anything a shopper can put in storage loads without panicking, within bounds.
pub fn stored_state(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (stored, _) = state::read(
        Some(&text),
        NOW,
        Retention {
            behaviour_days: 30,
            purchase_days: 730,
        },
    );
    assert!(stored.log.events().len() <= pricelet::limits::MAX_EVENTS);
    if let Some(id) = stored.anon_id {
        assert!(state::valid_anon_id(&id));
    }
    with_pricer(|p| {
        p.load_state(Some(&text), NOW);
        p.price_for(
            &serde_json::json!({"id": "x", "price": "10.00", "currency": "EUR"}),
            &CLOCK,
        )
        .expect("pricing continues");
    })
}

/// Model bytes: loading either kind fails cleanly or yields a model that scores in range.
pub fn model_loading(data: &[u8]) {
    for kind in [ModelKind::Interest, ModelKind::Uplift] {
        if let Ok(mut m) = Model::load(data, kind) {
            let w = m.info().features.len();
            if let Ok(out) = m.predict(&[vec![0.5; w]]) {
                assert!(out.iter().all(|x| x.is_finite()));
            }
        }
    }
}

/// Quote verification against a fixed item: never panics; `ok` only for internally consistent
/// quotes, and never with a quantity that is not a whole number from 1 to `maxQuantityPerOrder`
/// (the input's own `quantity` field is the checkout quantity, applied to it and to a genuine quote).
pub fn quote_verification(data: &[u8]) {
    let Some(q) = json(data) else { return };
    let item_json =
        serde_json::json!({"id": "sku-1", "price": "49.99", "currency": "EUR", "cost": "20.00"});
    let item = Item::from_json(&item_json).expect("fixture");
    let policy = Policy::default_policy();
    let keys = BTreeMap::from([("k1".to_string(), b"fuzz-signing-key-0123456789".to_vec())]);
    let quantity = q.get("quantity").map(Quantity::from_json);
    let allowed = |qty: &Option<Quantity>| match qty {
        None => true,
        Some(Quantity::Units(n)) => *n >= 1 && *n <= u64::from(policy.max_quantity_per_order),
        Some(Quantity::Invalid(_)) => false,
    };
    for opts in [
        VerifyOptions {
            now_ms: NOW,
            ..Default::default()
        },
        VerifyOptions {
            now_ms: NOW,
            quantity: Some(Quantity::Units(3)),
            keys,
        },
        VerifyOptions {
            now_ms: NOW,
            quantity: quantity.clone(),
            ..Default::default()
        },
    ] {
        let v = verify_quote(&q, &item, &policy, &opts);
        if v.ok {
            let price = q["priceMinor"]
                .as_i64()
                .expect("verified quotes have an integer price");
            assert!(
                price <= item.list_minor
                    && q["discountMinor"].as_i64() == Some(item.list_minor - price)
            );
            assert!(
                allowed(&opts.quantity),
                "verified with quantity {:?}",
                opts.quantity
            );
        }
    }
    // A genuine quote verifies exactly when the quantity is allowed.
    let genuine = with_pricer(|p| p.price_for(&item_json, &CLOCK)).expect("the fixture prices");
    let opts = VerifyOptions {
        now_ms: NOW,
        quantity: quantity.clone(),
        ..Default::default()
    };
    let v = verify_quote(&genuine.to_checkout(), &item, &policy, &opts);
    assert_eq!(v.ok, allowed(&quantity), "{quantity:?}: {:?}", v.problems);
}

/// Worker request decoding and edge pricing.
pub fn edge_request(data: &[u8]) {
    let Some(v) = json(data) else { return };
    let Ok(req) = EdgeRequest::from_json(&v) else {
        return;
    };
    with_pricer(|p| {
        if let Ok(out) = p.price_from_features(&req, &CLOCK) {
            assert_eq!(out.len(), req.items.len());
        }
    })
}

/// Measurement reports and a running tally, both from the network or storage (the Worker's
/// `/report`, its Durable Object, `tallyReports`): a refused report leaves the tally as it was, an
/// accepted one keeps it consistent, and the read-out never panics.
pub fn report_tally(data: &[u8]) {
    let Some(v) = json(data) else { return };
    // Both report domains: version 1 (the default policy) and version 2 (the learning loop).
    let learning = Policy::from_json_str(LEARNING_POLICY).expect("policy/learning.json is valid");
    for policy in [Policy::default_policy(), learning] {
        tally_and_propose(&v, &policy);
    }
}

const LEARNING_POLICY: &str = include_str!("../../../policy/learning.json");

fn tally_and_propose(v: &Value, policy: &Policy) {
    let expected = Expected::from_policy(policy).expect("the policy reports");
    let domain = &expected.domain;
    let mut tally = match v.get("tally") {
        None | Some(Value::Null) => Tally::for_domain(domain),
        Some(t) => match serde_json::from_value::<Tally>(t.clone()) {
            Ok(t) if t.fits_domain(domain) => t,
            _ => return,
        },
    };
    let reports = match v.get("reports") {
        Some(Value::Array(list)) => list.clone(),
        _ => vec![v.clone()],
    };
    for r in reports {
        let Ok(r) = serde_json::from_value::<Report>(r) else {
            continue;
        };
        let before = tally.clone();
        match add_report(&mut tally, &r, &expected) {
            Ok(()) => assert!(tally.fits_domain(domain) && tally.n == before.n + 1),
            Err(_) => assert_eq!(tally, before, "a refused report changed the tally"),
        }
    }
    if tally.n > 0 {
        let out = readout(&tally, &expected);
        assert_eq!(out.reports, tally.n);
        assert_eq!(out.cell_counts.len(), domain.size());
        // Shards merge exactly: a tally merged with itself counts every report twice.
        let mut twice = tally.clone();
        if twice.merge(&tally).is_ok() {
            assert!(twice.fits_domain(domain) && twice.n == 2 * tally.n);
        }
    }
    // The proposer decides on any tally without panicking, and a new version stays a valid
    // policy that differs only in β, version and previousVersion.
    // The reports split into two collection rounds (the tally, then the tally again: the rounds'
    // check takes each out of the whole).
    let turn = Turn {
        now_ms: 1_795_950_160_000,
        base_version: &policy.version,
        sequence: 1,
    };
    if let Ok(p) = propose(policy, &[tally.clone(), tally.clone()], &turn) {
        assert!(p
            .to_version
            .as_ref()
            .is_none_or(|v| v.chars().count() <= 64));
        if let Some(next) = &p.policy {
            let next = Policy::from_json(&next.to_json()).expect("a proposed policy is valid");
            assert_eq!(next.caps, policy.caps);
            assert_eq!(next.discount_steps, policy.discount_steps);
            assert_eq!(next.exclusions, policy.exclusions);
        }
    }
}

/// A harness: arbitrary bytes in, a panic if an invariant breaks.
pub type Harness = fn(&[u8]);

/// Every harness by name, for the corpus replay.
pub const ALL: &[(&str, Harness)] = &[
    ("item_pricing", item_pricing),
    ("event_tracking", event_tracking),
    ("policy_parsing", policy_parsing),
    ("stored_state", stored_state),
    ("model_loading", model_loading),
    ("quote_verification", quote_verification),
    ("edge_request", edge_request),
    ("report_tally", report_tally),
];
