use super::*;
use pricelet::ldp::{Arm, Domain, Group, Payload, Tuple};
use serde_json::{json, Value};

const NOW: i64 = 1_795_950_160_000;

fn policy(patch: impl Fn(&mut Value)) -> Policy {
    let mut v: Value =
        serde_json::from_str(include_str!("../../../../policy/learning.json")).unwrap();
    patch(&mut v);
    Policy::from_json(&v).unwrap()
}

/// An exact (noise-free) tally of `n` explore reports with conversion σ(α_b + β·d) per bucket:
/// the fit then returns β exactly and the interval is the sampling one.
fn tally_with(policy: &Policy, beta: f64, n: u64) -> Tally {
    let domain = Domain::for_policy(policy);
    let mut t = Tally::for_domain(&domain);
    let per = n / (domain.steps() * domain.groups()) as u64;
    for step in 0..domain.steps() {
        for b in 0..domain.groups() {
            let d = domain.steps_percent[step] / 100.0;
            let p = pricelet::math::sigmoid(-2.5 + b as f64 + beta * d);
            let yes = (per as f64 * p).round() as u64;
            for (converted, k) in [(true, yes), (false, per - yes)] {
                let j = domain.encode(&Tuple {
                    arm: Arm::Explore,
                    step,
                    converted,
                    group: Group::Interest(b),
                });
                // GRR with an enormous ε de-biases to the counts themselves.
                t.add_in_step_times(step, &Payload::Value(j % domain.randomized_size()), k);
            }
        }
    }
    t
}

fn exact(v: &mut Value) {
    v["reporting"]["epsilon"] = json!(10);
    v["reporting"]["dailyEpsilon"] = json!(10);
    v["reporting"]["mechanism"] = json!("grr");
}

fn turn(p: &Policy) -> Turn<'_> {
    Turn {
        now_ms: NOW,
        base_version: &p.version,
        sequence: 1,
    }
}

/// `n` reports of a price response `beta`, in two equal collection rounds.
fn decide(p: &Policy, beta: f64, n: u64) -> Proposal {
    let half = tally_with(p, beta, n / 2);
    propose(p, &[half.clone(), half], &turn(p)).unwrap()
}

#[test]
fn a_clear_signal_moves_beta_by_at_most_the_step_and_touches_nothing_else() {
    let p = policy(exact);
    let d = decide(&p, 9.0, 3_000_000);
    assert_eq!(d.action, Action::Propose, "{}", d.reason);
    let est = d.evidence.beta.unwrap();
    assert!(est.covers(9.0) && !est.covers(4.0), "{est:?}");
    assert_eq!(d.beta_after, 6.0, "4 + maxBetaStep 2");
    assert_eq!(d.evidence.rounds, 2);
    let next = d.policy.clone().unwrap();
    assert_eq!(next.version, "learning-2026.12.1+loop.1");
    let prev = next.previous_version.clone().unwrap();
    assert_eq!(prev.version, p.version);
    assert_eq!(
        prev.accept_until,
        NOW + p.learning.as_ref().unwrap().grace_ms
    );
    // Everything but β, version and previousVersion is the merchant's, untouched.
    let strip = |mut v: Value| {
        for k in ["version", "previousVersion", "strategy"] {
            v.as_object_mut().unwrap().remove(k);
        }
        v
    };
    assert_eq!(strip(next.to_json()), strip(p.to_json()));
    // The next proposal from the new version takes the number its store hands out.
    let half = tally_with(&next, 9.0, 1_500_000);
    let t = Turn {
        now_ms: NOW,
        base_version: &p.version,
        sequence: 2,
    };
    let d2 = propose(&next, &[half.clone(), half], &t).unwrap();
    assert_eq!((d2.action, d2.beta_after), (Action::Propose, 8.0));
    assert_eq!(d2.to_version.as_deref(), Some("learning-2026.12.1+loop.2"));
}

#[test]
fn the_step_bound_holds_at_and_past_its_limit() {
    let p = policy(exact);
    // Exactly one step away: moves all the way; further: stops at the bound.
    assert_eq!(decide(&p, 6.0, 3_000_000).beta_after, 6.0);
    assert_eq!(decide(&p, 20.0, 3_000_000).beta_after, 6.0);
    let down = decide(&p, 2.5, 3_000_000);
    assert_eq!((down.action, down.beta_after), (Action::Propose, 2.5));
}

#[test]
fn beta_never_leaves_the_merchant_range() {
    let p = policy(|v| {
        exact(v);
        v["learning"]["betaMax"] = json!(5);
    });
    // At the limit: 5; past it (β̂ = 12): still 5; at the edge already: hold.
    assert_eq!(decide(&p, 5.0, 3_000_000).beta_after, 5.0);
    assert_eq!(decide(&p, 12.0, 3_000_000).beta_after, 5.0);
    let at_edge = policy(|v| {
        exact(v);
        v["learning"]["betaMax"] = json!(5);
        v["strategy"]["beta"] = json!(5);
    });
    let d = decide(&at_edge, 12.0, 3_000_000);
    assert_eq!(
        (d.action, d.beta_after),
        (Action::Hold, 5.0),
        "{}",
        d.reason
    );
    assert!(d.policy.is_none());
}

#[test]
fn too_few_reports_or_too_wide_an_interval_changes_nothing() {
    let p = policy(|v| {
        exact(v);
        v["learning"]["minReports"] = json!(1_500);
    });
    let d = decide(&p, 9.0, 1_485);
    assert_eq!(d.action, Action::Hold);
    assert!(d.reason.contains("minReports"), "{}", d.reason);
    // At the minimum, with a width limit below what 1,500 reports give, the width rule decides.
    let strict = policy(|v| {
        exact(v);
        v["learning"]["minReports"] = json!(1_500);
        v["learning"]["maxIntervalWidth"] = json!(0.5);
    });
    let d = propose(&strict, &[tally_with(&strict, 9.0, 1_500)], &turn(&strict)).unwrap();
    assert_eq!(d.action, Action::Hold);
    assert!(d.reason.contains("maxIntervalWidth"), "{}", d.reason);
    let b = d.evidence.beta.unwrap();
    // A limit just above that width lets the same evidence through (with the rounds' check
    // taken out of the picture: each of many rounds is a sliver of the whole).
    let many = |p: &Policy| -> Vec<Tally> {
        let mut t = vec![tally_with(p, 9.0, 1_500)];
        let sliver = Tally::for_domain(&Domain::for_policy(p));
        t.extend(std::iter::repeat_n(sliver, 3));
        t
    };
    let wide = policy(|v| {
        exact(v);
        v["learning"]["minReports"] = json!(1_500);
        v["learning"]["maxIntervalWidth"] = json!(b.hi - b.lo + 0.01);
    });
    let d = propose(&wide, &many(&wide), &turn(&wide)).unwrap();
    assert_eq!(
        d.action,
        Action::Hold,
        "one round holds everything: {}",
        d.reason
    );
    assert!(d.reason.contains("one collection round"), "{}", d.reason);
    let narrow = policy(|v| {
        exact(v);
        v["learning"]["minReports"] = json!(1_500);
        v["learning"]["maxIntervalWidth"] = json!(b.hi - b.lo - 0.01);
    });
    assert!(propose(&narrow, &many(&narrow), &turn(&narrow))
        .unwrap()
        .reason
        .contains("maxIntervalWidth"));
}

#[test]
fn when_discounts_do_not_pay_the_loop_retreats_step_by_step() {
    let p = policy(|v| {
        exact(v);
        v["strategy"]["beta"] = json!(10);
    });
    let d = decide(&p, 0.0, 3_000_000);
    assert_eq!(
        (d.action, d.beta_after),
        (Action::Retreat, 8.0),
        "{}",
        d.reason
    );
    // A retreat is a change like any other: at most maxBetaStep, towards betaMin.
    let mut current = d.policy.clone().unwrap();
    let mut path = vec![10.0, 8.0];
    for _ in 0..6 {
        let d = decide(&current, 0.0, 3_000_000);
        if d.action == Action::Hold {
            break;
        }
        assert_eq!(d.action, Action::Retreat, "{}", d.reason);
        path.push(d.beta_after);
        current = d.policy.clone().unwrap();
    }
    assert_eq!(path, [10.0, 8.0, 6.0, 4.0, 2.0, 0.0]);
    // Already at betaMin: nothing more to do.
    let again = decide(&current, 0.0, 3_000_000);
    assert_eq!(again.action, Action::Hold, "{}", again.reason);
    // An interval reaching the break-even β is not a retreat.
    let be = break_even_beta(&p);
    assert!((2.0..3.0).contains(&be), "{be}");
    let near = decide(&p, be, 3_000_000);
    assert_ne!(near.action, Action::Retreat, "{}", near.reason);
}

/// Finding 1 of the attack on the loop: 2,052 fake reports (GRR at ε = 2, simulating β = −6)
/// and no honest traffic made a retreat 4 → 0 with an interval 10.3 wide.
#[test]
fn a_retreat_needs_the_same_evidence_as_any_change() {
    let p = policy(|v| v["learning"]["minReports"] = json!(2000));
    let domain = Domain::for_policy(&p);
    let expected = Expected::from_policy(&p).unwrap();
    let mut rng = crate::seeded(11);
    let mut fakes = Tally::for_domain(&domain);
    for i in 0..2_052usize {
        let step = i % domain.steps();
        let b = (i / domain.steps()) % domain.groups();
        let d = domain.steps_percent[step] / 100.0;
        let converted =
            pricelet::random::uniform(&mut rng) < pricelet::math::sigmoid(-1.0 - 6.0 * d);
        let j = domain.encode(&Tuple {
            arm: Arm::Explore,
            step,
            converted,
            group: Group::Interest(b),
        });
        let (_, local) = domain.split(j);
        let payload = pricelet::ldp::randomize(
            local,
            domain.randomized_size(),
            expected.mechanism,
            expected.epsilon,
            &mut rng,
        );
        fakes.add_in_step(step, &payload);
    }
    // One burst: whatever it says, nothing changes.
    let d = propose(&p, &[fakes.clone()], &turn(&p)).unwrap();
    assert_eq!(d.action, Action::Hold, "{}", d.reason);
    let b = d.evidence.beta.unwrap();
    assert!(
        b.hi - b.lo > 4.0,
        "an interval as wide as the attack's: {b:?}"
    );
    assert!(
        b.hi < d.evidence.break_even_beta,
        "the fakes say discounts do not pay: {b:?}"
    );
    assert!(d.reason.contains("maxIntervalWidth"), "{}", d.reason);
    // The same reports split over two rounds: still the width rule.
    let half = fakes.clone();
    let d = propose(&p, &[half, Tally::for_domain(&domain)], &turn(&p)).unwrap();
    assert_eq!(d.action, Action::Hold, "{}", d.reason);
}

#[test]
fn one_round_can_never_decide_a_change() {
    let p = policy(exact);
    // Honest evidence for the current β = 4 in three rounds, then a burst for β = 20 in one.
    let honest = tally_with(&p, 4.0, 600_000);
    let burst = tally_with(&p, 20.0, 3_000_000);
    let rounds = [honest.clone(), honest.clone(), honest, burst.clone()];
    let all = propose(&p, &rounds, &turn(&p)).unwrap();
    assert_eq!(all.action, Action::Hold, "{}", all.reason);
    assert!(
        all.reason.contains("without collection round 4"),
        "{}",
        all.reason
    );
    // Alone, the burst's evidence is overwhelming; alone it is also one round.
    let alone = propose(&p, &[burst], &turn(&p)).unwrap();
    assert_eq!(alone.action, Action::Hold, "{}", alone.reason);
    assert!(
        alone.reason.contains("one collection round"),
        "{}",
        alone.reason
    );
    // Evidence that holds in every round acts, by the smallest of the leave-one-out moves.
    let steady = tally_with(&p, 9.0, 1_000_000);
    let d = propose(&p, &[steady.clone(), steady.clone(), steady], &turn(&p)).unwrap();
    assert_eq!(
        (d.action, d.beta_after),
        (Action::Propose, 6.0),
        "{}",
        d.reason
    );
}

#[test]
fn loop_versions_fit_the_length_limit_and_never_repeat() {
    let long = "v".repeat(MAX_NAME_LEN);
    let names: Vec<String> = (1..=12).map(|n| loop_version(&long, n)).collect();
    for name in &names {
        assert!(name.chars().count() <= MAX_NAME_LEN, "{name}");
    }
    assert!(names[9].ends_with("+loop.10"));
    let mut unique = names.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), names.len());
    assert_eq!(loop_version("base", 3), "base+loop.3");
    // Multi-byte characters are cut on a character boundary.
    let accented = "é".repeat(63);
    assert_eq!(loop_version(&accented, 7).chars().count(), MAX_NAME_LEN);
    // The proposer names and validates with them: a 64-character base still proposes.
    let p = policy(|v| {
        exact(v);
        v["version"] = json!(long);
    });
    let d = decide(&p, 9.0, 3_000_000);
    assert_eq!(d.action, Action::Propose, "{}", d.reason);
    let next = d.policy.clone().unwrap();
    assert_eq!(next.version.chars().count(), MAX_NAME_LEN);
}

#[test]
fn the_kill_switch_and_a_policy_without_learning_stop_the_loop() {
    let off = policy(|v| {
        exact(v);
        v["learning"]["enabled"] = json!(false);
    });
    let d = decide(&off, 9.0, 3_000_000);
    assert_eq!((d.action, d.beta_after), (Action::Stopped, 4.0));
    assert!(d.policy.is_none() && d.to_version.is_none());
    // Evidence is still recorded for the audit log.
    assert!(d.evidence.beta.is_some());
    let plain = Policy::default_policy();
    let t = Tally::for_domain(&Domain::for_policy(&plain));
    assert_eq!(
        propose(&plain, &[t], &turn(&plain)).unwrap().action,
        Action::Stopped
    );
}

#[test]
fn a_tally_of_another_domain_is_refused() {
    let p = policy(exact);
    let v1 = Tally::for_domain(&Domain::for_policy(&Policy::default_policy()));
    let e = propose(&p, &[v1], &turn(&p)).unwrap_err();
    assert!(e.message.contains("does not fit"), "{}", e.message);
}

#[test]
fn a_round_can_be_taken_out_of_the_tally_it_was_merged_into() {
    let p = policy(exact);
    let (a, b) = (tally_with(&p, 3.0, 10_000), tally_with(&p, 7.0, 20_000));
    let mut m = a.clone();
    m.merge(&b).unwrap();
    assert_eq!(m.without(&b).unwrap().ones, a.ones);
    assert!(a.without(&b).is_err(), "b was never in a");
}

#[test]
fn a_proposal_writes_its_policy_as_the_policy_document() {
    let p = policy(exact);
    let d = decide(&p, 9.0, 3_000_000);
    let next = d.policy.clone().unwrap();
    let text = serde_json::to_string(&d).unwrap();
    let document = serde_json::to_string(&next.to_json()).unwrap();
    assert!(
        text.ends_with(&format!(r#""policy":{document}}}"#)),
        "{text}"
    );
    let hold = decide(&p, 4.0, 3_000_000);
    assert_eq!(hold.action, Action::Hold, "{}", hold.reason);
    assert!(serde_json::to_string(&hold)
        .unwrap()
        .ends_with(r#""policy":null}"#));
}
