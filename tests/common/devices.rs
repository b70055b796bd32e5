//! Simulated devices for the measurement tests: policies with a reporting section, pricers that
//! play one device after another (the model loaded once), and the visits they track.

use super::{clock, config, model_bytes, new_pricer, seeded_rng, NOW};
use pricelet::scorer::ModelKind;
use pricelet::JsonPricer;
use pricelet::{Consent, ModelSlot, Policy, Pricer, PricerConfig};
use serde_json::{json, Value};

pub fn policy_with(patch: Value) -> Policy {
    let mut v: Value = serde_json::from_str(pricelet::policy::DEFAULT_POLICY_JSON).unwrap();
    for (k, val) in patch.as_object().unwrap() {
        v[k] = val.clone();
    }
    Policy::from_json(&v).unwrap()
}

pub fn reporting(eps: f64, daily: f64, mechanism: &str) -> Policy {
    policy_with(
        json!({"reporting": {"epsilon": eps, "dailyEpsilon": daily, "mechanism": mechanism}}),
    )
}

pub fn model() -> ModelSlot {
    pricelet_onnx::slot(Some(&model_bytes()), ModelKind::Interest)
}

pub fn pricer(
    policy: Policy,
    consent: Consent,
    gpc: bool,
    anon: &str,
    state: Option<&str>,
) -> Pricer {
    let config = PricerConfig {
        gpc_opt_out: gpc,
        anon_id: Some(anon.into()),
        ..config(consent)
    };
    new_pricer(policy, model(), state, config)
}

/// One pricer playing many devices (loading the model once): forget, then adopt the device's id.
pub fn shared_pricer(policy: Policy) -> Pricer {
    new_pricer(policy, model(), None, device_config())
}

/// A device that has given consent and has no id yet (it takes the one of its stored state).
fn device_config() -> PricerConfig {
    PricerConfig {
        anon_id: None,
        ..config(Consent::Granted)
    }
}

/// The next device: a new pricer (its own log, id and report budget) with the models of the last.
pub fn become_device(p: &mut Pricer, anon: &str) {
    let state =
        format!(r#"{{"schema":"pricelet/behaviour","version":1,"anonId":"{anon}","events":[]}}"#);
    let policy = p.policy().clone();
    let placeholder = pricer_without_model(policy.clone());
    let (interest, uplift) = std::mem::replace(p, placeholder).into_models();
    *p = Pricer::new(
        policy,
        interest,
        uplift,
        Some(&state),
        device_config(),
        NOW,
        // Each device randomizes its reports with its own stream.
        seeded_rng(
            0x5EED
                ^ u64::from(
                    anon.bytes()
                        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b))),
                ),
        ),
    )
    .unwrap();
    assert_eq!(p.anon_id(), anon);
}

pub fn pricer_without_model(policy: Policy) -> Pricer {
    new_pricer(policy, ModelSlot::Absent, None, device_config())
}

pub fn sneaker() -> Value {
    json!({"id": "sneaker-1", "price": "89.99", "currency": "EUR", "category": "shoes", "cost": "30.00"})
}

/// A hesitant visit: few pages, high exit rates, no page value (the model scores it low).
pub fn hesitant(p: &mut Pricer, start: i64) {
    for i in 0..2 {
        let ev = json!({"type": "page_view", "at": NOW + start + i * 30_000,
            "page": {"kind": "product", "id": format!("p{i}"), "bounceRate": 0.2, "exitRate": 0.2, "pageValue": 0}});
        p.track_json(&ev, &clock(start + 60_000)).unwrap();
    }
}
