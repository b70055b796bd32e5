//! The learning loop end to end on real sessions (`pricelet loop-simulate`): with a known true price
//! response the loop retreats to list price when discounts do not pay and converges when they do.

mod common;

use common::*;
use serde_json::Value;

fn simulate(true_beta: &str, epsilon: &str, shoppers: &str) -> Value {
    let data = data("online_shoppers_intention.csv");
    let o = run(&[
        "loop-simulate",
        "--data",
        data.to_str().unwrap(),
        "--true-beta",
        true_beta,
        "--epsilon",
        epsilon,
        "--rounds",
        "10",
        "--shoppers-per-round",
        shoppers,
        "--seed",
        "7",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v = stdout_json(&o);
    let rounds = v["rounds"].as_array().unwrap();
    assert_eq!(rounds.len(), 10);
    for (i, r) in rounds.iter().enumerate() {
        assert_eq!(r["round"], i + 1);
        assert_eq!(r["shoppers"].as_u64().unwrap().to_string(), shoppers);
        for k in [
            "betaUsed",
            "profitPer1000",
            "oracleProfitPer1000",
            "listProfitPer1000",
        ] {
            assert!(r[k].is_f64() || r[k].is_u64(), "{k}: {r}");
        }
    }
    v
}

fn last(v: &Value, k: &str) -> f64 {
    v["rounds"].as_array().unwrap().last().unwrap()[k]
        .as_f64()
        .unwrap()
}

/// No change of β may come from fake reports sent in one round; spread over rounds, it takes many.
fn assert_poisoning_needs_more_than_a_burst(v: &Value) {
    let p = &v["poisoning"];
    assert!(p.is_object(), "the honest reports hold β at the end: {p}");
    for goal in ["up", "down", "retreat"] {
        assert!(
            p["burst"][goal].is_null(),
            "a burst of fakes in one round moved β {goal}: {p}"
        );
    }
    let honest = p["honestReports"].as_u64().unwrap();
    let least = ["twoRounds", "everyRound"]
        .iter()
        .flat_map(|s| ["up", "down"].map(|g| p[s][g].as_u64()))
        .flatten()
        .min()
        .expect("some spread of fakes moves β within the search");
    assert!(
        least > honest / 1000,
        "{least} fakes against {honest} honest reports: {p}"
    );
}

#[test]
fn when_discounts_do_not_work_the_loop_retreats_to_list_price() {
    // 300,000 shoppers a round: a retreat needs the evidence of any change, round by round.
    let v = simulate("0", "4", "300000");
    let (profit, list) = (last(&v, "profitPer1000"), last(&v, "listProfitPer1000"));
    // The policy starts at β = 4 and gives margin away; the loop takes it back.
    let first = &v["rounds"][0];
    assert!(
        first["profitPer1000"].as_f64().unwrap()
            < 0.95 * first["listProfitPer1000"].as_f64().unwrap(),
        "{first}"
    );
    assert_eq!(last(&v, "betaUsed"), 0.0);
    assert!(profit >= 0.99 * list, "last round {profit} vs list {list}");
    assert!(v["rounds"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["action"] == "retreat" || r["action"] == "propose"));
    assert_poisoning_needs_more_than_a_burst(&v);
}

#[test]
fn when_shoppers_respond_the_loop_converges_near_the_oracle() {
    let v = simulate("8", "4", "100000");
    let (lo, hi) = (last(&v, "betaLow"), last(&v, "betaHigh"));
    assert!(
        lo <= 8.0 && 8.0 <= hi,
        "the last interval [{lo}, {hi}] covers the true β"
    );
    let (profit, oracle, list) = (
        last(&v, "profitPer1000"),
        last(&v, "oracleProfitPer1000"),
        last(&v, "listProfitPer1000"),
    );
    assert!(
        profit - list >= 0.9 * (oracle - list),
        "gain {} of the oracle's {}",
        profit - list,
        oracle - list
    );
    // Each step of β was within the guardrail.
    let used: Vec<f64> = v["rounds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["betaUsed"].as_f64().unwrap())
        .collect();
    assert!(
        used.windows(2).all(|w| (w[1] - w[0]).abs() <= 2.0 + 1e-9),
        "{used:?}"
    );
    assert!(used.last().unwrap() > &4.0, "{used:?}");
    assert_poisoning_needs_more_than_a_burst(&v);
}

#[test]
fn loop_simulate_refuses_bad_flags_and_a_policy_without_learning() {
    let bad = run(&["loop-simulate", "--true-beta", "-1"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--true-beta"));
    let data = data("online_shoppers_intention.csv");
    let plain = run(&[
        "loop-simulate",
        "--data",
        data.to_str().unwrap(),
        "--true-beta",
        "4",
        "--policy",
        "policy/default.json",
        "--rounds",
        "1",
    ]);
    assert_eq!(plain.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&plain.stderr).contains("learning"),
        "{}",
        String::from_utf8_lossy(&plain.stderr)
    );
}
