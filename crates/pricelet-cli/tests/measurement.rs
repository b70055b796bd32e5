//! Measurement commands (docs/measurement.md): `aggregate` de-biases reports and refuses what it
//! cannot, `ldp-simulate` plans a study on the real datasets, `fairness` reports discounts by
//! segment and enforces the spread limit.

mod common;

use common::*;
use serde_json::{json, Value};

/// `n` reports made by the device's randomizer for a population with known rates: arms 50/50,
/// control converts 10 %, treatment steps uniform with conversion σ(logit 0.1 + 4·d). Returns the
/// JSON lines and the true (control, treatment) conversion.
fn known_reports(policy: &pricelet::Policy, n: usize, seed: u64) -> (String, f64, f64) {
    use pricelet::ldp::{self, Arm, Domain, Group, Segment, Tuple};
    let r = policy.reporting.as_ref().unwrap();
    let domain = Domain::for_policy(policy);
    let mut rng = pricelet_lab::rng::Rng::new(seed);
    let base = pricelet::math::logit(0.1);
    let rate = |s: usize| pricelet::math::sigmoid(base + 4.0 * domain.steps_percent[s] / 100.0);
    let treatment = (0..domain.steps()).map(rate).sum::<f64>() / domain.steps() as f64;
    let mut out = String::new();
    for _ in 0..n {
        let control = ldp::uniform(&mut rng) < 0.5;
        let step = if control {
            0
        } else {
            ldp::below(&mut rng, domain.steps())
        };
        let t = Tuple {
            arm: if control {
                Arm::Control
            } else {
                Arm::Treatment
            },
            step,
            converted: ldp::uniform(&mut rng) < rate(step),
            group: Group::Segment(if ldp::uniform(&mut rng) < 0.3 {
                Segment::New
            } else {
                Segment::Returning
            }),
        };
        let payload = ldp::randomize(
            domain.encode(&t),
            domain.size(),
            r.mechanism,
            r.epsilon,
            &mut rng,
        );
        let report = ldp::Report::new("2026-11-29".into(), &domain, r.epsilon, &payload);
        out += &serde_json::to_string(&report).unwrap();
        out.push('\n');
    }
    (out, 0.1, treatment)
}

#[test]
fn aggregate_de_biases_reports_into_rates_a_b_and_beta() {
    // The bundled policy's reporting setup (no --policy needed).
    let policy = pricelet::Policy::default_policy();
    let (lines, control, treatment) = known_reports(&policy, 40_000, 11);
    let file = tmp("reports.jsonl", &lines);
    let o = run(&["aggregate", file.to_str().unwrap(), "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r = stdout_json(&o);
    assert_eq!(r["reports"], 40_000);
    assert_eq!(r["epsilon"], policy.reporting.as_ref().unwrap().epsilon);
    let within = |e: &Value, truth: f64, what: &str| {
        let (est, se) = (e["estimate"].as_f64().unwrap(), e["se"].as_f64().unwrap());
        assert!(
            se > 0.0 && (est - truth).abs() < 4.0 * se,
            "{what}: {e} vs {truth}"
        );
        assert!(e["lo"].as_f64().unwrap() < est && est < e["hi"].as_f64().unwrap());
    };
    within(&r["arms"][0]["conversion"], control, "control");
    within(&r["arms"][1]["conversion"], treatment, "treatment");
    within(
        &r["incrementalConversion"],
        treatment - control,
        "incremental",
    );
    within(&r["beta"]["beta"], 4.0, "β");
    // Revenue per shopper as a share of list: control pays list; treatment Σ_s conversion_s·(1 − d_s) / 5.
    let steps = pricelet::ldp::Domain::for_policy(&policy).steps_percent;
    let revenue: f64 = steps
        .iter()
        .map(|s| {
            let d = s / 100.0;
            pricelet::math::sigmoid(pricelet::math::logit(0.1) + 4.0 * d) * (1.0 - d)
        })
        .sum::<f64>()
        / steps.len() as f64;
    within(&r["arms"][0]["revenueShare"], control, "control revenue");
    within(&r["arms"][1]["revenueShare"], revenue, "treatment revenue");
    within(
        &r["revenueShareDifference"],
        revenue - control,
        "revenue difference",
    );
    assert_eq!(r["steps"].as_array().unwrap().len(), 5);
    assert_eq!(r["cellCounts"].as_array().unwrap().len(), 40);
    // The text form has the tables.
    let text = run(&["aggregate", file.to_str().unwrap()]);
    let t = String::from_utf8_lossy(&text.stdout);
    for needle in [
        "conversion by arm",
        "A/B read-out",
        "price-response curve",
        "β̂ =",
    ] {
        assert!(t.contains(needle), "{needle:?} not in {t}");
    }
}

#[test]
fn aggregate_refuses_reports_it_cannot_de_bias() {
    let policy = pricelet::Policy::default_policy();
    let (lines, ..) = known_reports(&policy, 3, 1);
    let mut rows: Vec<Value> = lines
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let eps = policy.reporting.as_ref().unwrap().epsilon;
    let write = |name: &str, rows: &[Value]| {
        let text: String = rows.iter().map(|r| format!("{r}\n")).collect();
        tmp(name, &text)
    };
    let mut other_eps = rows.clone();
    other_eps[1]["epsilon"] = json!(eps / 2.0);
    let mut extra = rows.clone();
    extra[0]["itemId"] = json!("sneaker-1");
    let no_reporting = tmp("no-reporting.json", &{
        let mut v: Value = serde_json::from_str(pricelet::policy::DEFAULT_POLICY_JSON).unwrap();
        v.as_object_mut().unwrap().remove("reporting");
        v.to_string()
    });
    rows[2]["bits"] = json!("0101");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![write("eps.jsonl", &other_eps).display().to_string()],
            "line 2",
        ),
        (
            vec![write("eps.jsonl", &other_eps).display().to_string()],
            "--policy",
        ),
        (
            vec![write("extra.jsonl", &extra).display().to_string()],
            "itemId",
        ),
        (
            vec![write("bits.jsonl", &rows).display().to_string()],
            "line 3",
        ),
        (
            vec![tmp("empty.jsonl", "\n").display().to_string()],
            "no reports",
        ),
        (
            vec![
                write("ok.jsonl", &rows[..2]).display().to_string(),
                "--policy".into(),
                no_reporting.display().to_string(),
            ],
            "no `reporting` section",
        ),
    ];
    for (args, needle) in cases {
        let mut all = vec!["aggregate".to_string()];
        all.extend(args);
        let o = run(&all.iter().map(String::as_str).collect::<Vec<_>>());
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{all:?}: {err}");
        assert!(err.contains(needle), "{needle:?} not in {err}");
        assert!(o.stdout.is_empty());
    }
}

#[test]
fn ldp_simulate_shows_error_falling_with_epsilon_and_shoppers() {
    let dir = data("hillstrom.csv").parent().unwrap().to_path_buf();
    let o = run(&[
        "ldp-simulate",
        "--data-dir",
        dir.to_str().unwrap(),
        "--sizes",
        "2000,20000",
        "--epsilons",
        "1,4",
        "--mechanisms",
        "oue",
        "--reps",
        "12",
        "--control-percent",
        "50",
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r = stdout_json(&o);
    let rows = r["rows"].as_array().unwrap();
    let pops: Vec<&str> = r["populations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(pops, ["online_shoppers", "hillstrom_visit"]);
    // Hillstrom's truth is the real randomized difference (Womens e-mail − no e-mail visits).
    let h = &r["populations"][1]["truth"];
    assert!(
        h["incremental"].as_f64().unwrap() > 0.03 && h["control"].as_f64().unwrap() > 0.05,
        "{h}"
    );
    let find = |pop: &str, mech: &str, eps: Option<f64>, n: u64| {
        rows.iter()
            .find(|x| {
                x["population"] == pop
                    && x["mechanism"] == mech
                    && x["epsilon"].as_f64() == eps
                    && x["n"] == n
            })
            .unwrap_or_else(|| panic!("no row {pop} {mech} {eps:?} {n}"))
    };
    let rmse = |x: &Value| x["rmseIncremental"].as_f64().unwrap();
    for pop in pops {
        for eps in [1.0, 4.0] {
            // Ten times the shoppers: the error falls (by about √10).
            let (small, big) = (
                find(pop, "oue", Some(eps), 2000),
                find(pop, "oue", Some(eps), 20000),
            );
            assert!(rmse(big) < rmse(small), "{pop} ε {eps}: {small} {big}");
        }
        for n in [2000, 20000] {
            // More privacy (smaller ε) costs precision; no privacy is the floor.
            let (e1, e4, none) = (
                find(pop, "oue", Some(1.0), n),
                find(pop, "oue", Some(4.0), n),
                find(pop, "none", None, n),
            );
            assert!(rmse(e1) > rmse(e4) && rmse(e4) > rmse(none), "{pop} n {n}");
        }
        // Where the delta method holds (ε 4, 20,000 shoppers) the closed form predicts the intervals.
        let x = find(pop, "oue", Some(4.0), 20000);
        let (sim, pred) = (
            x["meanHalfWidthIncremental"].as_f64().unwrap(),
            x["predictedHalfWidthIncremental"].as_f64().unwrap(),
        );
        assert!(
            (sim / pred - 1.0).abs() < 0.25,
            "{pop}: simulated ±{sim} vs predicted ±{pred}"
        );
        assert!(
            (1.96 * rmse(x) / pred - 1.0).abs() < 0.5,
            "{pop}: RMSE {} vs ±{pred}",
            rmse(x)
        );
    }
    // Shoppers needed for ±1 point: fewer with a larger ε, always more than without privacy.
    let needed = r["needed"].as_array().unwrap();
    for pop in ["online_shoppers", "hillstrom_visit"] {
        let n = |mech: &str, eps: Option<f64>| {
            needed
                .iter()
                .find(|x| {
                    x["population"] == pop && x["mechanism"] == mech && x["epsilon"].as_f64() == eps
                })
                .unwrap()["shoppers"]
                .as_f64()
                .unwrap()
        };
        assert!(n("oue", Some(1.0)) > n("oue", Some(4.0)) && n("oue", Some(4.0)) > n("none", None));
    }
    // Bad settings are refused.
    let bad = run(&[
        "ldp-simulate",
        "--epsilons",
        "0",
        "--data-dir",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--epsilons"));
}

#[test]
fn fairness_reports_discounts_by_segment_and_enforces_the_spread_limit() {
    let csv = data("online_shoppers_intention.csv");
    let fairness = |extra: &[&str]| {
        let mut args = vec![
            "fairness",
            "--data",
            csv.to_str().unwrap(),
            "--rows",
            "2000",
            "--json",
        ];
        args.extend(extra);
        let o = run(&args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        stdout_json(&o)
    };
    let open = fairness(&[]);
    let limited = fairness(&["--max-spread-percent", "8"]);
    for r in [&open, &limited] {
        assert_eq!(r["rows"], 2000);
        assert_eq!(r["verificationProblems"], json!({}), "every quote verifies");
        assert_eq!(r["spreadViolations"], 0);
        let seg = |name: &str| {
            r["segments"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["segment"] == name)
                .map_or(0, |s| s["shoppers"].as_u64().unwrap())
        };
        assert_eq!(seg("all"), 2000);
        assert_eq!(
            seg("VisitorType=New_Visitor")
                + seg("VisitorType=Returning_Visitor")
                + seg("VisitorType=Other"),
            2000
        );
        assert_eq!(seg("Weekend=TRUE") + seg("Weekend=FALSE"), 2000);
        for s in r["segments"].as_array().unwrap() {
            let shares: f64 = s["stepShares"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .sum();
            assert!((shares - 1.0).abs() < 1e-9, "{s}");
            let any = s["shoppersWithAnyDiscount"].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&any));
        }
        for it in r["items"].as_array().unwrap() {
            let spread = it["spreadPercent"].as_f64().unwrap();
            assert!(spread <= it["capPercent"].as_f64().unwrap() + 1e-9, "{it}");
            assert!(
                it["minPrice"].as_f64().unwrap()
                    >= it["lowestFeasiblePrice"].as_f64().unwrap() - 1e-9
            );
            if it["excluded"] == true {
                assert_eq!((it["discountedShare"].as_f64(), spread), (Some(0.0), 0.0));
            }
        }
    }
    let max_spread = |r: &Value| {
        r["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["spreadPercent"].as_f64().unwrap())
            .fold(0.0, f64::max)
    };
    assert!(
        max_spread(&open) > 8.0,
        "without a limit the caps allow more than 8 %"
    );
    assert!(max_spread(&limited) <= 8.0);
    assert_eq!(limited["maxSpreadPercent"], 8.0);
    // The text form names the tables; a bad limit is refused with the field named.
    let text = run(&["fairness", "--data", csv.to_str().unwrap(), "--rows", "50"]);
    let t = String::from_utf8_lossy(&text.stdout);
    assert!(
        t.contains("discounts by segment") && t.contains("price spread per item"),
        "{t}"
    );
    let bad = run(&[
        "fairness",
        "--data",
        csv.to_str().unwrap(),
        "--rows",
        "50",
        "--max-spread-percent",
        "0",
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("maxSpreadPercent"));
}
