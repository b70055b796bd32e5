"""The model card (models/README.md), written from the metrics train.py measured and the JSON the
Rust CLI printed (`pricelet simulate`, `npm run bench:models`). `train.py --card` rewrites it alone."""

import json

# The training module (its constants and model families), set by train.py before writing the card.
T = None


def fmt(m):
    return f"{m['mean']:.4f} ± {m['std']:.4f}"


def num(x, d=3):
    return "" if x is None else f"{x:.{d}f}"


def kb(n):
    return f"{n / 1024:.1f} KB"


def cal_table(rows):
    head = "| predicted bin | n | mean predicted | observed purchase rate |\n|---|---|---|---|\n"
    return head + "\n".join(f"| {r['bin']} | {r['n']} | {num(r['meanPredicted'])} | {num(r['observedRate'])} |" for r in rows)


def candidates_table(cv, chosen):
    head = ("| candidate | calibration | ROC AUC | PR AUC | log loss | ECE | graph size |\n"
            "|---|---|---|---|---|---|---|\n")
    rows = []
    for key, c in cv.items():
        s = c["summary"]
        mark = " **(shipped)**" if key == chosen else ""
        rows.append(f"| {c['family']}{mark} | {c['calibration']} | {fmt(s['auc'])} | {fmt(s['pr_auc'])} | {fmt(s['log_loss'])} | "
                    f"{fmt(s['ece'])} | {kb(c['bytes'])} |")
    return head + "\n".join(rows)


def folds_table(c):
    return ("| fold | AUC | PR AUC | log loss | ECE |\n|---|---|---|---|---|\n" +
            "\n".join(f"| {i + 1} | {m['auc']:.4f} | {m['pr_auc']:.4f} | {m['log_loss']:.4f} | {m['ece']:.4f} |"
                      for i, m in enumerate(c["folds"])))


def signed(x, d=0):
    v = round(x, d)
    return f"{v:+,.{d}f}" if v != 0 else "0"


def per_1000(iv, d=1):
    return f"{iv['estimate']:+.{d}f} [{iv['lo']:+.{d}f}, {iv['hi']:+.{d}f}]"


def hillstrom_reading(h):
    r = {x["name"]: x for x in h["rules"]}
    est = lambda n: r[n]["incremental_visits_per_1000"]["estimate"]  # noqa: E731
    per_offer = lambda n: 100 * est(n) / (1000 * r[n]["share"])  # noqa: E731
    return (f"Reading: offering to the {r['policy']['share']:.0%} the policy picks yields {est('policy'):.1f} of the "
            f"{est('everyone'):.1f} incremental visits that e-mailing everyone yields ({est('policy') / est('everyone'):.0%}), "
            f"{per_offer('policy'):.1f} visits per 100 offers against {per_offer('everyone'):.1f} for everyone; "
            f"the same share at random yields {est('random'):.1f}"
            + (f", and by predicted response alone {est('response only'):.1f}" if "response only" in r else "")
            + ". Intervals of different rules overlap in part; they are not independent (same customers).")


def shoppers_reading(sh, b):
    rows = {r["beta"]: r for r in sh["sweep"]}
    beta = float(json.loads((T.HERE.parent / "policy" / "default.json").read_text())["strategy"]["beta"])
    d = rows.get(beta)
    if d is None:
        return ""
    off = [r["beta"] for r in sh["sweep"] if r["offered_share"] > 0]
    zero = [r["beta"] for r in sh["sweep"] if r["offered_share"] == 0 and (not off or r["beta"] < min(off))]
    first = (f"no session is discounted at β = {max(zero):g}, {rows[min(off)]['offered_share']:.0%} are at β = {min(off):g}"
             if off and zero else "the sweep does not bracket the switch")
    return (f"Reading: at the default policy's β = {beta:g} the strategy discounts {d['offered_share']:.0%} of sessions by "
            f"{d['mean_discount_percent']:.1f} % on average (most sessions have a low r, and a global β says a discount moves "
            f"them); *if* β = {beta:g} holds, profit rises by {d['profit_per_1000'] - b['profit_per_1000']:,.0f} per 1,000 sessions, "
            f"and if nobody responds it falls by {b['profit_per_1000'] - d['profit_if_unresponsive_per_1000']:,.0f} "
            f"({(b['profit_per_1000'] - d['profit_if_unresponsive_per_1000']) / b['profit_per_1000']:.0%}). The decision "
            f"flips sharply: {first}. This is why β should come from the policy's own randomized offers (control arm "
            "and exploration), or per shopper from an uplift model, rather than be assumed. The default policy uses "
            f"β = {beta:g} as a stated assumption: the one measured analogue here, the Hillstrom visit rates with and without the "
            "e-mail read as a 10 % offer, gives (logit 15.07 % − logit 10.46 %) / 0.10 ≈ 4.2; at β = 6 the downside if nobody "
            "responds was larger still.")


def simulate_section():
    """Tables from `pricelet simulate` (models/simulate-*.json, written by the commands shown)."""
    out = []
    hp, sp = T.HERE / "simulate-hillstrom.json", T.HERE / "simulate-shoppers.json"
    if hp.exists():
        h = json.loads(hp.read_text())
        rows = "\n".join(
            f"| {r['name']} | {r['share']:.3f} | {per_1000(r['incremental_visits_per_1000'])} | {per_1000(r['incremental_spend_per_1000'], 0)} |"
            for r in h["rules"])
        out.append(f"""### (a) Hillstrom: whom to make the offer, judged on the randomized arms
{h['rows']} customers (Womens E-Mail {h['n_treated']}, No E-Mail {h['n_control']}); representative item {h['item']['price']:.2f} {h['item']['currency']}
(cost: the policy's default {h['item']['cost_note']}), offer step d₀ = {h['offer_step_percent']:g} %, interest r = {h['base_rate']:.4f}
(the control arm's visit rate: the no-offer response rate, the same for every customer). The policy's rule: β_i from the
uplift model (`β_i = (logit(r + u_i) − logit(r)) / d₀`), and an offer when the expectedProfit strategy picks a discount
above 0 for the item. Each rule's incremental effect per 1,000 customers is share × (mean outcome e-mailed − mean outcome
not e-mailed) within the customers it targets, from the randomized arms; random targeting at the policy's share is
share × (everyone's effect), its expected value. 95 % intervals: {h['resamples']} bootstrap resamples within each arm (seed {h['seed']}).

| rule | share offered | incremental visits / 1,000 customers [95 % CI] | incremental spend ($) / 1,000 customers [95 % CI] |
|---|---|---|---|
{rows}

{hillstrom_reading(h)}

The treatment is an e-mail, not a discount, and spend is revenue before any discount cost.""")
    if sp.exists():
        sh = json.loads(sp.read_text())
        b = sh["no_discount"]
        rows = "\n".join(
            f"| {r['beta']:g} | {r['offered_share']:.3f} | {num(r['mean_discount_percent'], 1)} | {r['purchases_per_1000']:.1f} | "
            f"{r['revenue_per_1000']:,.0f} | {r['discount_cost_per_1000']:,.0f} | {r['discount_to_list_buyers_per_1000']:,.0f} | "
            f"{r['profit_per_1000']:,.0f} | {signed(r['profit_per_1000'] - b['profit_per_1000'])} | "
            f"{signed(r['profit_if_unresponsive_per_1000'] - b['profit_per_1000'])} |"
            for r in sh["sweep"])
        out.append(f"""### (b) Online Shoppers: revenue and discount cost under the policy's *assumed* price response
{sh['sessions']} sessions, each session's interest r from `{sh['model']}` (finished sessions, in-sample), one representative
item of {sh['item']['price']:.2f} {sh['item']['currency']} (cost: the policy's default {sh['item']['cost_note']}), the default policy's
candidates and its expectedProfit strategy with one global β. Expected purchases are σ(logit r + β·d): **β is assumed, not
estimated** — this data has no price variation, so the sweep shows what the policy would do *if* the response were β.
Without discounts: {b['purchases_per_1000']:.1f} purchases, revenue {b['revenue_per_1000']:,.0f}, profit {b['profit_per_1000']:,.0f} per
1,000 sessions (gross prices incl. tax; profit is net of tax and cost).

| β | share offered | mean discount % (offered) | purchases / 1,000 | revenue / 1,000 | discount cost / 1,000 | of it to list-price buyers | profit / 1,000 | Δ profit vs no discount | Δ profit if nobody responds |
|---|---|---|---|---|---|---|---|---|---|
{rows}

"Of it to list-price buyers" is Σ r·discount: discount money on purchases that would have happened at list price.
"Δ profit if nobody responds" keeps the decisions made under β but lets the true response be 0: the downside if the
assumed β is wrong.

{shoppers_reading(sh, b)}""")
    if not out:
        return "Run the commands below to add the tables."
    return "\n\n".join(out)


def wasm_cost_section():
    """The table `npm run bench:models` writes to models/wasm-cost.json (measured in the built package)."""
    path = T.HERE / "wasm-cost.json"
    if not path.exists():
        return "Not measured yet: run `npm run bench:models` (it writes models/wasm-cost.json), then `python3 models/train.py --card`."
    c = json.loads(path.read_text())
    rows = "\n".join(
        f"| {r['model']} | {r['fileKB']:.1f} | {r['loadMs']:.1f} | {r['ortLoadMs']:.1f} | {r['rowUs']:.0f} | {r['ortRowUs']:.0f} |"
        for r in c["rows"])
    return f"""Measured with `npm run bench:models` ({c['date']}, Node {c['node']}, onnxruntime-web {c['ort']} as the reference; medians).
Load = `createPricer` with the model minus without it (parse, validate, optimize the plan once, a trial inference);
per row = a re-scored quote after a `track()` with the model minus without it (the features from the log plus one
inference; the plan is reused). The reference is onnxruntime-web's session create and one bare `run` of a [1, n] tensor.
{c.get('note', '')}

| model | file (KB) | pricelet load (ms) | ORT session create (ms) | pricelet per row (µs) | ORT run, 1 row (µs) |
|---|---|---|---|---|---|
{rows}"""


def write_card(im, um, n, positives):
    cvf, cvb = im["cv"]["interest"], im["cv"]["behaviour"]
    ins, insb = im["insample"], im["insample_behaviour"]
    chosen, chosen_b = ins["candidate"], insb["candidate"]
    c, cb = cvf[chosen], cvb[chosen_b]
    cal_all = "\n\n".join(f"**{k}** (out-of-fold, all 5 test folds together):\n\n{cal_table(v['calibration_table'])}" for k, v in cvf.items())
    ucv = um["cv"]
    up, resp = um["insample"], um["insample_response"]
    urows = "\n".join(f"| {k} | {v['label'].replace('|', chr(92) + '|')} | {fmt(v['summary']['qini'])} | {fmt(v['summary']['uplift_at_30'])} |"
                      for k, v in ucv.items())
    best = max((k for k in ucv if k.endswith("-lr") or "gbt" in k), key=lambda k: ucv[k]["summary"]["qini"]["mean"])
    d = ucv["s-learner-lr"]["summary"]["qini"]
    r = ucv["response-only"]["summary"]["qini"]
    wins = sum(a["qini"] > b["qini"] for a, b in zip(ucv["s-learner-lr"]["folds"], ucv["response-only"]["folds"]))
    text = f"""# Model card: pricelet models

*Generated by `python3 models/train.py` (seeded, single-threaded: a re-run writes the same files); the simulation tables
come from `pricelet simulate` (commands below). Every model here is ONNX with input `features` f32 [N, F] and the pricelet
metadata; `cargo test --test models` checks tract against onnxruntime (≤ 1e-5) on each `*.parity.json`.*

| file | kind | what | size |
|---|---|---|---|
| `interest.onnx` | interest | P(purchase in this session), all session features | {kb(ins['bytes'])} ({ins['bytes']} bytes) |
| `interest-behaviour.onnx` | interest | the same without `page_value_avg` (behaviour only) | {kb(insb['bytes'])} ({insb['bytes']} bytes) |
| `uplift.onnx` | uplift | P(visit \\| offer) − P(visit \\| no offer), customer history | {kb(up['bytes'])} ({up['bytes']} bytes) |
| `hillstrom-response.onnx` | interest | evaluation only: the response-only baseline on Hillstrom, P(visit \\| e-mail) | {kb(resp['bytes'])} ({resp['bytes']} bytes) |

## 1. Interest model v2

### What it predicts
`interest` = P(the session ends in a purchase | the shopper's on-device behaviour so far, no extra discount).
The pricing strategies read it as the shopper's purchase probability *r* (docs/pricing.md).

### Data
UCI "Online Shoppers Purchasing Intention" (Sakar, Polat, Katircioglu, Kastro 2019, CC BY 4.0), the
stratified 80 % share in `../shared/data/online_shoppers_intention.csv`: {n} sessions, {positives}
with `Revenue = TRUE` ({positives / n:.1%}). The file is not in this repository.

### Features
Only what a device can compute (see `models/features.json` for meaning, unit, source and transform of each):
`{", ".join(T.INTEREST_FEATURES)}`; the behaviour-only model drops `page_value_avg`.
`OperatingSystems`, `Browser`, `Region` and `TrafficType` are not used: they are not behaviour and a
storefront should not fingerprint them. `BounceRates`, `ExitRates` and `PageValues` are public per-page
metrics the storefront ships with each page, not personal data. Features are rounded to float32 before training,
exactly as the model receives them.

Known quirks, handled the same way in training and on the device:
- Google Analytics durations are seconds and give the exit page 0 s; the device counts a page's dwell as
  `dwellMs` if the storefront reports it, else the time to the next page view, and the newest page as 0 s.
- The rows are **finished** sessions while a device scores a session **in progress**: early in a visit the
  counts are smaller than any finished session's, so scores then are conservative (lower) until the visit
  develops. This is a known train/serve gap; the test vectors check the arithmetic, not this gap.
- `Month` never takes January or April in the data, so those months are all-zero one-hots.

### Candidates and how they were compared
Three families, each with two calibrations, on the same 5 stratified folds (seed {T.SEED}):
- {T.Logistic.label}, standardization folded into the weights (MatMul, Add);
- {T.Mlp.label}, exported by hand as Gemm, Relu, Gemm;
- {T.Trees.label}, exported as one standard `ai.onnx.ml` `TreeEnsembleRegressor` node giving the raw score (thresholds
  rounded down to float32, so a float32 input takes the same branch as in scikit-learn). pricelet runs that operator
  with its own tree walk inside tract (`crates/pricelet-onnx/src/trees.rs`; tract 0.23.9's own `ai.onnx.ml` tree code
  walks a leaf table linearly, ≈ 9 ms a row for these trees); onnxruntime runs it natively. `interest-gemm.onnx` keeps
  the same trees in the dense-tensor "GEMM" form of Hummingbird (Nakandala et al., OSDI 2020) that pricelet shipped
  before, for the benchmark and a cross-check test.

Calibration is fitted **inside each training fold** on the raw score (logit) of an inner 5-fold out-of-fold prediction,
then the model is refitted on the whole training fold; nothing of the test fold is seen. Platt scaling σ(a·z + b) is
folded into the last layer (or the leaf values), followed by Sigmoid and Clip to [{T.CLAMP}, 1 − {T.CLAMP}]; isotonic regression
is exported as its piecewise-linear interpolation, y₀ + Σ_k s_k·min(relu(z − x_k), x_(k+1) − x_k) (Sub, Relu, Min, MatMul,
Add), clipped to [{T.ISO_CLAMP}, 1 − {T.ISO_CLAMP}]. **Every metric below is of the exported ONNX graph run by onnxruntime on the
test fold**, so it measures what ships. Hyperparameters were fixed beforehand from a small pilot on these same folds
(not tuned per fold), which makes the numbers slightly optimistic.

Mean ± standard deviation over the 5 folds (ECE: 10 equal-width bins; AUC and PR AUC as scikit-learn computes them):

{candidates_table(cvf, chosen)}

### Choice
The rule (coded in `train.py`): the smallest mean CV log loss — a proper score, so discrimination and calibration
together — among the candidates whose graph is at most {T.SIZE_BUDGET // 1024} KB. It picks **{chosen}**: CV AUC
{fmt(c['summary']['auc'])} and ECE {fmt(c['summary']['ece'])} (targets: AUC ≥ 0.93 with ECE ≤ 0.02), in a
{kb(ins['bytes'])} file. The trees gain ≈ 0.02 AUC and ≈ 0.03 log loss over the logistic regression (non-linear
effects and interactions a linear score cannot express); Platt keeps the trees' ranking (isotonic's flat steps cost a
little PR AUC) and is two numbers folded into the leaf values. The MLP is small but sits between the two; in the pilot, the
same MLP trained without early stopping reached ≈ 0.930 AUC at ten times the fitting time, still below the trees.
Model version `{ins['version']}`.

Per fold ({chosen}):

{folds_table(c)}

Calibration tables of every candidate:

{cal_all}

### Behaviour only (no `page_value_avg`)
`page_value_avg` carries most of the signal but is a storefront-supplied figure; a store that does not ship page
values (or does not want its pricing to depend on them) uses `models/interest-behaviour.onnx`. Same folds, same rule:

{candidates_table(cvb, chosen_b)}

Shipped: **{chosen_b}**, CV AUC {fmt(cb['summary']['auc'])} (target ≥ 0.77), ECE {fmt(cb['summary']['ece'])},
{kb(insb['bytes'])}. Model version `{insb['version']}`.

{cal_table(cb['calibration_table'])}

### The exported models on the training file (in-sample, through onnxruntime)
| model | n | AUC | PR AUC | log loss | ECE |
|---|---|---|---|---|---|
| `interest.onnx` | {ins['n']} | {ins['auc']:.6f} | {ins['pr_auc']:.6f} | {ins['log_loss']:.6f} | {ins['ece']:.6f} |
| `interest-behaviour.onnx` | {insb['n']} | {insb['auc']:.6f} | {insb['pr_auc']:.6f} | {insb['log_loss']:.6f} | {insb['ece']:.6f} |

`pricelet evaluate --model models/interest.onnx --data ../shared/data/online_shoppers_intention.csv` (and the same with
`interest-behaviour.onnx`) reproduces these through the Rust feature path and tract (tested to 1e-4 in `cargo test`).

## 2. Uplift model (Hillstrom)

**What it is:** a methodology demonstration on a real randomized test — Kevin Hillstrom's MineThatData e-mail
experiment (2008) — **not a measured discount response**. The treatment is a Womens e-mail, the outcome a site visit
within two weeks. pricelet reads the model as "how much does the policy's offer step d₀ move this shopper"
(`β_i = (logit(r + u_i) − logit(r)) / d₀`, `pricing::beta_from_uplift`); until a store has its own randomized offer data
(the policy's experiment arms and exploration log exactly that), this file shows the pipeline, not the effect of a discount.

### Data and features
`../shared/data/hillstrom.csv`, the 51,200-customer share: Womens E-Mail vs No E-Mail, Mens E-Mail rows dropped:
{up['n']} customers, {up['n_treated']} e-mailed (visit rate {up['treated_rate']:.4f}) and {up['n_control']} not
(visit rate {up['control_rate']:.4f}); average effect +{up['ate']:.4f}.
Features `{", ".join(T.HISTORY_FEATURES)}` from `featurize.history_from_row` (recency, history, mens, womens, newbie),
the history a device computes from its purchase events. `channel` (Phone/Web/Multichannel), `zip_code` and
`history_segment` are not used: the channel is not observable on the device, the zip code is location data a
storefront should not use, and the segment is a binning of `history`.

### Learners and baselines
The same 5 folds for all, stratified on (treatment, visit), seed {T.SEED}. Normalized Qini is scikit-uplift 0.5.1's
`qini_auc_score` (negative effects allowed in the perfect curve); uplift@30 % is `uplift_at_k(k=0.3, strategy='overall')`:
treated minus control visit rate among the 30 % ranked highest. Baselines use their score as the ranking.

| name | what | normalized Qini | uplift@30 % |
|---|---|---|---|
{urows}

### Choice
Shipped: the **S-learner** (logistic regression on x, t and x·t; the graph evaluates both arms and subtracts, one output
`uplift`), CV Qini {fmt(d)} vs the response-only baseline {fmt(r)} (higher in {wins} of 5 folds) and random ≈ 0.
Among the learners the best mean is `{best}`; the differences between learners are well inside one fold standard
deviation, and the S-learner is 12 numbers, smooth (few ties in the ranking) and cheap on a device. Targeting by
response alone also ranks high the customers who would visit anyway; targeting by the no-offer interest alone is no
better than random here. Model version `{up['version']}`, {kb(up['bytes'])}.

### In-sample (through onnxruntime) and `pricelet evaluate`
| model | n | normalized Qini | uplift@30 % | mean predicted uplift | share with uplift > 0 |
|---|---|---|---|---|---|
| `uplift.onnx` | {up['n']} | {up['qini']:.6f} | {up['uplift_at_30']:.6f} | {up['mean_uplift']:.4f} | {up['share_positive']:.3f} |
| `hillstrom-response.onnx` (response only) | {resp['n']} | {resp['qini']:.6f} | {resp['uplift_at_30']:.6f} | | |

In-sample numbers are no comparison between the two: the response trees fit their own training rows (CV above is the
comparison). `pricelet evaluate --model models/uplift.onnx --data ../shared/data/hillstrom.csv` reproduces these through
`history_summary_from_row` → features → tract over the Womens/No e-mail rows (treatment = Womens E-Mail), tested to 1e-4.

## 3. Offline evaluation of the discount policy (`pricelet simulate`)

{simulate_section()}

Commands (the JSON files above are exactly their output):

```
cargo run --bin pricelet -- simulate --data ../shared/data/hillstrom.csv --uplift-model models/uplift.onnx \\
    --response-model models/hillstrom-response.onnx > models/simulate-hillstrom.json
cargo run --bin pricelet -- simulate --data ../shared/data/online_shoppers_intention.csv \\
    --model models/interest.onnx > models/simulate-shoppers.json
python3 models/train.py --card   # rewrites this card with the tables (no retraining)
```

## 4. Cost in wasm

{wasm_cost_section()}

## Limits
Trained on one retailer's 2017-era sessions and one 2008 e-mail campaign; scores are probabilities for *those*
populations. The discount response β of the default policy is an assumption, not estimated from any of this data;
the uplift model's effect is an e-mail's, not a discount's.
"""
    (T.HERE / "README.md").write_text(text)
