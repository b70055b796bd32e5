//! What a merchant's server adds to the engine (the node and workerd entries load it; a shopper's
//! browser does not): the collector's tally and estimates, signing edge quotes, and pricing from
//! features a device sent.

use crate::constants::MAX_EDGE_ITEMS;
use crate::convert::{self, error};
use crate::device::{parse_quote, WasmPricer};
use crate::parse_policy;
use pricelet::error::{Code, Error};
use pricelet::ldp::Report;
use pricelet::pricer::{EdgeRequest, PriceSlot};
use pricelet::quote::Signer;
use pricelet::wire::report::ReportReadError;
use pricelet_measure::{add_report, readout, unread_report, Expected, Tally};
use serde_json::Value;
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
impl WasmPricer {
    /// Prices an edge request; given a key id and key, also signs every quote (as `signQuote`
    /// does, in the same pass: one crossing of the boundary instead of one per quote).
    #[wasm_bindgen(js_name = priceFromFeatures)]
    pub fn price_from_features(
        &mut self,
        request: JsValue,
        key_id: JsValue,
        key: JsValue,
    ) -> Result<JsValue, JsValue> {
        let text = convert::text(&request, "request")?;
        let request = edge_request(&text)?;
        let signer = if key_id.is_undefined() && key.is_undefined() {
            None
        } else {
            let key_id = convert::text(&key_id, "keyId")?;
            let key = convert::text(&key, "key")?;
            Some(Signer::new(&key_id, key.as_bytes()).map_err(error)?)
        };
        let clock = self.clock()?;
        let slots = self
            .core
            .price_from_features(&request, &clock)
            .map_err(error)?;
        let Some(signer) = signer else {
            return Ok(convert::json(&slots));
        };
        let signed: Vec<PriceSlot> = slots
            .into_iter()
            .map(|slot| match slot {
                PriceSlot::Quote(q) => PriceSlot::Quote(Box::new(q.signed_by(&signer))),
                other => other,
            })
            .collect();
        Ok(convert::json(&signed))
    }
}

/// The request straight from its text into the typed form (the Worker's hot path: no JSON tree,
/// no path tracking); only a request that does not parse takes the careful path again, for an
/// error that names the field. Over `MAX_EDGE_ITEMS` items is refused before any is priced.
fn edge_request(text: &str) -> Result<EdgeRequest, JsValue> {
    pricelet::limits::check_count("input", text.len(), pricelet::limits::MAX_INPUT_CHARS * 3)
        .map_err(error)?;
    let request = match EdgeRequest::from_text(text) {
        Some(r) => r,
        None => {
            let v = convert::document_text(text, Code::InvalidArgument, "the request")?;
            EdgeRequest::from_json(&v).map_err(error)?
        }
    };
    pricelet::limits::check_count("items", request.items.len(), MAX_EDGE_ITEMS).map_err(error)?;
    Ok(request)
}

fn reporting_setup(policy: &JsValue) -> Result<Expected, JsValue> {
    let policy = parse_policy(policy)?;
    let mut expected = Expected::from_policy(&policy).map_err(error)?;
    expected.latest_day = Some(pricelet::ldp::latest_day(js_sys::Date::now() as i64));
    Ok(expected)
}

fn tally_of(tally: &JsValue, expected: &Expected) -> Result<Tally, JsValue> {
    let size = expected.domain.size();
    let Some(t) = convert::optional_document(tally, Code::InvalidReport, "the tally")? else {
        return Ok(Tally::for_domain(&expected.domain));
    };
    let t: Tally = serde_json::from_value(t).map_err(|e| {
        error(Error::at(
            Code::InvalidReport,
            "tally",
            format!(
                "not a report tally ({e}); pass what tallyReports returned, or null to start one"
            ),
        ))
    })?;
    if !t.fits_domain(&expected.domain) {
        return Err(error(Error::at(Code::InvalidReport, "tally", format!("the tally does not fit the policy's reporting domain ({size} cells), or its counts are impossible (edited?): pass null to start a new tally"))));
    }
    Ok(t)
}

/// Adds measurement reports to a running tally (`null` starts one), all or nothing: a report not
/// made under the policy's reporting setup is refused with its index.
#[wasm_bindgen(js_name = tallyReports)]
pub fn tally_reports(
    reports: JsValue,
    tally: JsValue,
    policy: JsValue,
) -> Result<JsValue, JsValue> {
    let expected = reporting_setup(&policy)?;
    let mut next = tally_of(&tally, &expected)?;
    let Value::Array(list) = convert::document(&reports, Code::InvalidReport, "the reports")?
    else {
        return Err(error(Error::at(
            Code::InvalidReport,
            "reports",
            "tallyReports takes an array of reports",
        )));
    };
    pricelet::limits::check_count("reports", list.len(), pricelet::limits::MAX_ITEMS_PER_BATCH)
        .map_err(error)?;
    for (i, v) in list.into_iter().enumerate() {
        let field = format!("reports[{i}]");
        let r = Report::from_json(v).map_err(|e| match e {
            ReportReadError::NotAReport(e) => error(Error::at(Code::InvalidReport, &field, format!("{field} is not a measurement report ({e}); a report has exactly day, mechanism, epsilon, domain, domainVersion and bits or value"))),
            e => error(Error::at(Code::InvalidReport, &field, format!("{field}: {}", unread_report(&e, &expected)))),
        })?;
        add_report(&mut next, &r, &expected).map_err(|m| {
            error(Error::at(
                Code::InvalidReport,
                &field,
                format!("{field}: {m}"),
            ))
        })?;
    }
    Ok(convert::json(&next))
}

/// The de-biased read-out of a tally: conversion by arm, step and segment with intervals that
/// include the privacy noise, the A/B difference and the refitted β.
#[wasm_bindgen(js_name = estimates)]
pub fn estimates_js(tally: JsValue, policy: JsValue) -> Result<JsValue, JsValue> {
    let expected = reporting_setup(&policy)?;
    let t = tally_of(&tally, &expected)?;
    if t.n == 0 {
        return Err(error(Error::at(
            Code::InvalidReport,
            "tally",
            "no reports yet: estimates need at least one report",
        )));
    }
    Ok(convert::json(&readout(&t, &expected)))
}

/// Signs a quote for edge mode: sets `keyId` and `sig` (HMAC-SHA256 over its JCS checkout fields).
#[wasm_bindgen(js_name = signQuote)]
pub fn sign_quote(quote: JsValue, key_id: JsValue, key: JsValue) -> Result<JsValue, JsValue> {
    let q = parse_quote(&quote)?;
    let key_id = convert::text(&key_id, "keyId")?;
    let key = convert::text(&key, "key")?;
    q.sign(&key_id, key.as_bytes())
        .map(|q| convert::json(&q))
        .map_err(error)
}

/// Merges the tallies of a collector's shards (sums merge exactly: the same read-out as one tally).
#[wasm_bindgen(js_name = mergeTallies)]
pub fn merge_tallies(tallies: JsValue, policy: JsValue) -> Result<JsValue, JsValue> {
    let expected = reporting_setup(&policy)?;
    let Value::Array(list) = convert::document(&tallies, Code::InvalidReport, "the tallies")?
    else {
        return Err(error(Error::at(
            Code::InvalidReport,
            "tallies",
            "mergeTallies takes an array of tallies (null entries are empty shards)",
        )));
    };
    let mut merged = Tally::for_domain(&expected.domain);
    for (i, v) in list.into_iter().enumerate() {
        let shard = tally_of(&convert::json(&v), &expected)
            .map_err(|_| error(Error::at(Code::InvalidReport, format!("tallies[{i}]"), format!("tallies[{i}] is not a tally of the policy's reporting domain ({} cells): pass what tallyReports returned, or null", expected.domain.size()))))?;
        merged.merge(&shard).map_err(error)?;
    }
    Ok(convert::json(&merged))
}

/// The rules a collector applies to a policy, from their one owner (the core): how many reports
/// one device may send a day (null without `reporting`), and how long quotes of the policy still
/// verify once another version replaces it.
#[wasm_bindgen(js_name = policyRules)]
pub fn policy_rules(policy: JsValue) -> Result<JsValue, JsValue> {
    let policy = parse_policy(&policy)?;
    Ok(convert::json(&serde_json::json!({
        "reportsPerDevicePerDay": policy.reporting.as_ref().map(|r| r.reports_per_day()),
        "graceWhenReplacedMs": policy.grace_when_replaced_ms(),
    })))
}

/// The learning loop's proposer: from the tallies of the policy's reports, one per collection
/// round (oldest first), keep the policy or propose the next version.
/// `turn` is `{ now, baseVersion, sequence }`: the loop's versions are named
/// `<baseVersion>+loop.<sequence>` (shortened to fit), and the caller's store hands out each
/// sequence number once. Returns the decision with its evidence (an audit log entry) and, for a
/// new version, the policy, validated like any policy.
#[wasm_bindgen(js_name = proposePolicy)]
pub fn propose_policy(policy: JsValue, rounds: JsValue, turn: JsValue) -> Result<JsValue, JsValue> {
    let expected = reporting_setup(&policy)?;
    let Value::Array(list) = convert::document(&rounds, Code::InvalidReport, "the rounds")? else {
        return Err(error(Error::at(
            Code::InvalidReport,
            "rounds",
            "proposePolicy takes an array of tallies, one per collection round (oldest first)",
        )));
    };
    pricelet::limits::check_count("rounds", list.len(), MAX_ROUNDS).map_err(error)?;
    let rounds = list
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            tally_of(&convert::json(&v), &expected).map_err(|_| error(Error::at(Code::InvalidReport, format!("rounds[{i}]"), format!("rounds[{i}] is not a tally of the policy's reporting domain ({} cells): pass what tallyReports or mergeTallies returned, or null", expected.domain.size()))))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let policy = parse_policy(&policy)?;
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    struct TurnIn {
        now: serde_json::Number,
        base_version: String,
        sequence: u64,
    }
    let turn: TurnIn = serde_json::from_value(convert::document(
        &turn,
        Code::InvalidArgument,
        "the options",
    )?)
    .map_err(|e| {
        error(Error::at(
            Code::InvalidArgument,
            "options",
            format!("proposePolicy's options are {{ now, baseVersion, sequence }} ({e})"),
        ))
    })?;
    let now = pricelet::wire::json::epoch_ms(&Value::Number(turn.now), "now").map_err(error)?;
    if turn.base_version.trim().is_empty() || turn.sequence == 0 {
        return Err(error(Error::at(Code::InvalidArgument, "options", "baseVersion must name the deployed base policy and sequence must be a whole number from 1 (each used once)")));
    }
    pricelet_measure::propose(
        &policy,
        &rounds,
        &pricelet_measure::Turn {
            now_ms: now,
            base_version: &turn.base_version,
            sequence: turn.sequence,
        },
    )
    .map(|p| convert::json(&p))
    .map_err(error)
}

/// The most collection rounds one call reads (years of rounds every six hours).
const MAX_ROUNDS: usize = 20_000;
