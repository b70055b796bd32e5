//! What the commands print: JSON, or text tables of the collector's read-out, the study planner
//! and the fairness report.

use pricelet::ldp::Arm;
use pricelet_lab::fairness::FairnessReport;
use pricelet_lab::plan::SimReport;
use pricelet_measure::{Estimate, Readout};
use serde_json::Value;

pub fn print_json(v: &Value) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

fn pct(e: &Option<Estimate>) -> String {
    match e {
        Some(e) => format!(
            "{:>6.2} %  [{:>6.2}, {:>6.2}]",
            100.0 * e.estimate,
            100.0 * e.lo,
            100.0 * e.hi
        ),
        None => "     —   (no exposures in the estimate)".into(),
    }
}

fn pp(e: &Option<Estimate>) -> String {
    match e {
        Some(e) => format!(
            "{:+.2} pp [{:+.2}, {:+.2}]",
            100.0 * e.estimate,
            100.0 * e.lo,
            100.0 * e.hi
        ),
        None => "— (an arm has no exposures)".into(),
    }
}

/// The read-out as text tables.
pub fn readout(r: &Readout) -> String {
    let mut out = String::new();
    let days = match (&r.first_day, &r.last_day) {
        (Some(a), Some(b)) if a == b => a.clone(),
        (Some(a), Some(b)) => format!("{a} to {b}"),
        _ => "-".into(),
    };
    out += &format!(
        "{} reports ({days}), policy {}, mechanism {}, ε = {} per report\n{}\n\n",
        r.reports,
        r.policy,
        r.mechanism.as_str(),
        r.epsilon,
        r.intervals
    );
    out += "conversion by arm\n  arm         exposures   conversion [95 % CI]         revenue per shopper, share of list [95 % CI]\n";
    for a in &r.arms {
        out += &format!(
            "  {:<10} {:>10.0}   {}   {}\n",
            match a.arm {
                Arm::Control => "control",
                Arm::Treatment => "treatment",
                Arm::Explore => "explore",
            },
            a.exposures,
            pct(&a.conversion),
            pct(&a.revenue_share)
        );
    }
    out += &format!(
        "\nA/B read-out (treatment − control)\n  incremental conversion      {}\n  revenue per shopper (list)  {}\n",
        pp(&r.incremental_conversion),
        pp(&r.revenue_share_difference)
    );
    out += "\nprice-response curve (both arms)\n  step  discount   exposures   treatment share [95 % CI]     conversion [95 % CI]          fitted\n";
    for s in &r.steps {
        out += &format!(
            "  {:>4}  {:>6.2} %  {:>10.0}   {}   {}   {}\n",
            s.step,
            s.discount_percent,
            s.exposures,
            pct(&s.treatment_share),
            pct(&s.conversion),
            s.fitted
                .map_or("—".to_string(), |f| format!("{:.2} %", 100.0 * f))
        );
    }
    match (&r.beta, &r.beta_problem) {
        (Some(b), _) => {
            out += &format!(
                "  fit P(buy | d) = σ(α + β·d): β̂ = {:.2} [{:.2}, {:.2}], α̂ = {:.3}{}\n",
                b.beta.estimate,
                b.beta.lo,
                b.beta.hi,
                b.alpha,
                r.policy_beta
                    .map_or(String::new(), |p| format!("; the policy assumes β = {p}"))
            )
        }
        (None, Some(why)) => out += &format!("  β not fitted: {why}\n"),
        _ => {}
    }
    out += &format!("  note: {}\n", r.caveat);
    out += "\nconversion by segment\n";
    for s in &r.segments {
        out += &format!(
            "  {:<18} {:>10.0}   {}\n",
            s.segment,
            s.exposures,
            pct(&s.conversion)
        );
    }
    out
}

fn fmt_count(x: f64) -> String {
    if !x.is_finite() {
        return "—".into();
    }
    let s = format!("{:.0}", x.ceil());
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The simulation as text tables (percentage points).
pub fn simulation(r: &SimReport) -> String {
    let mut out = format!(
        "domain {} ({} values), {} repetitions per row, seed {}\n",
        r.domain, r.domain_size, r.reps, r.seed
    );
    for p in &r.populations {
        out += &format!(
            "\n== {} — {} ({} rows)\n   {}\n   truth: control {:.2} %, treatment {:.2} %, incremental {:+.2} pp{}\n",
            p.name,
            p.source,
            p.rows,
            p.assumption,
            100.0 * p.truth.control,
            100.0 * p.truth.treatment,
            100.0 * p.truth.incremental,
            p.truth.beta.map_or(String::new(), |b| format!(", β = {b}"))
        );
        out += "   mech   ε        n   RMSE ctrl  RMSE trt  RMSE incr | ±95% ctrl  ±95% trt  ±95% incr (predicted) | cover incr | RMSE β̂  cover β | undefined\n";
        for row in r.rows.iter().filter(|x| x.population == p.name) {
            out += &format!(
                "   {:<4} {:>3} {:>8}   {:>8.2}  {:>8.2}  {:>9.2} | {:>9.2}  {:>8.2}  {:>9.2} ({:>7.2}) | {:>10.2} | {:>7} {:>7} | {}\n",
                row.mechanism,
                row.epsilon.map_or("∞".to_string(), |e| format!("{e}")),
                row.n,
                100.0 * row.rmse_control,
                100.0 * row.rmse_treatment,
                100.0 * row.rmse_incremental,
                100.0 * row.mean_half_width_control,
                100.0 * row.mean_half_width_treatment,
                100.0 * row.mean_half_width_incremental,
                100.0 * row.predicted_half_width_incremental,
                row.coverage_incremental,
                row.rmse_beta.map_or("—".to_string(), |b| format!("{b:.2}")),
                row.coverage_beta.map_or("—".to_string(), |c| format!("{c:.2}")),
                row.undefined
            );
        }
    }
    out += &format!(
        "\nshoppers needed for a 95 % half-width of ±{} pp on the incremental conversion (closed form: (1.96/h)² · ∇gᵀΣ∇g)\n   population                 mech   ε     per-report variance     shoppers\n",
        100.0 * r.precision
    );
    for nd in &r.needed {
        out += &format!(
            "   {:<26} {:<4} {:>3}   {:>18.4}   {:>12}\n",
            nd.population,
            nd.mechanism,
            nd.epsilon.map_or("∞".to_string(), |e| format!("{e}")),
            nd.per_report_variance,
            fmt_count(nd.shoppers)
        );
    }
    out
}

/// The report as text tables.
pub fn fairness(r: &FairnessReport) -> String {
    let mut out = format!(
        "{} sessions × {} items, policy {}, model {}; maxSpreadPercent: {}\n",
        r.rows,
        r.items.len(),
        r.policy,
        r.model,
        r.max_spread_percent.map_or(
            "not set (the caps bound the spread)".to_string(),
            |s| format!("{s} %")
        )
    );
    let steps: Vec<String> = r.steps_percent.iter().map(|s| format!("{s:>5}%")).collect();
    out += &format!(
        "\ndiscounts by segment (share of quotes at each step: the largest step at or below the actual discount)\n  {:<30} {:>8} {:>9} {:>10} {:>10} {:>9} {:>8}   {}\n",
        "segment",
        "shoppers",
        "interest",
        "any disc.",
        "disc. q.",
        "mean %",
        "explore",
        steps.join(" ")
    );
    for s in &r.segments {
        let shares: Vec<String> = s
            .step_shares
            .iter()
            .map(|x| format!("{:>5.1}%", 100.0 * x))
            .collect();
        out += &format!(
            "  {:<30} {:>8} {:>9.3} {:>9.1}% {:>9.1}% {:>8.2}% {:>7.1}%   {}\n",
            s.segment,
            s.shoppers,
            s.mean_interest,
            100.0 * s.shoppers_with_any_discount,
            100.0 * s.discounted_quote_share,
            s.mean_discount_percent,
            100.0 * s.explore_share,
            shares.join(" ")
        );
    }
    out += &format!(
        "\nprice spread per item\n  {:<10} {:>4} {:>10} {:>8} {:>10} {:>10} {:>10} {:>9} {:>15} {:>6}\n",
        "item", "cur", "list", "excluded", "discounted", "min", "max", "spread", "lowest feasible", "cap"
    );
    for it in &r.items {
        out += &format!(
            "  {:<10} {:>4} {:>10.2} {:>8} {:>9.1}% {:>10.2} {:>10.2} {:>8.2}% {:>15.2} {:>5}%\n",
            it.item_id,
            it.currency,
            it.list_price,
            if it.excluded { "yes" } else { "no" },
            100.0 * it.discounted_share,
            it.min_price,
            it.max_price,
            it.spread_percent,
            it.lowest_feasible_price,
            it.cap_percent
        );
    }
    for s in &r.skipped_items {
        out += &format!("  skipped: {s}\n");
    }
    out += &format!(
        "\n{} quotes; verify_quote problems: {}; quotes beyond maxSpreadPercent: {}\n",
        r.quotes,
        if r.verification_problems.is_empty() {
            "none".to_string()
        } else {
            format!("{:?}", r.verification_problems)
        },
        r.spread_violations
    );
    out
}
