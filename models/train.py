#!/usr/bin/env python3
"""Train pricelet's interest model on the real Online Shoppers data and export it for tract.

    python3 models/train.py            # creates models/.venv (pinned requirements), trains, writes:
      models/interest.onnx             the model (features f32 [N,F] -> interest [N,1], pricelet metadata)
      models/interest.parity.json      inputs + onnxruntime outputs (tract must match to 1e-5)
      models/interest.metrics.json     5-fold CV metrics and the exported model's in-sample metrics
      models/feature_vectors.json      synthetic event logs -> summaries -> features (Rust must match)
      models/README.md                 the model card

Data: ../shared/data/online_shoppers_intention.csv (or $PRICELET_DATA/online_shoppers_intention.csv).
Everything is seeded; a re-run reproduces the same files.
"""

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENV = HERE / ".venv"


def ensure_venv():
    """Re-run inside models/.venv with the pinned requirements (created on first use)."""
    if Path(sys.prefix).resolve() == VENV.resolve():
        return
    py = VENV / "bin" / "python"
    if not py.exists():
        print(f"creating {VENV} ...", file=sys.stderr)
        subprocess.check_call([sys.executable, "-m", "venv", str(VENV)])
    req = HERE / "requirements.txt"
    stamp = VENV / ".requirements.installed"
    if not stamp.exists() or stamp.read_text() != req.read_text():
        subprocess.check_call([str(py), "-m", "pip", "install", "-q", "-r", str(req)])
        stamp.write_text(req.read_text())
    os.execv(str(py), [str(py), __file__, *sys.argv[1:]])


ensure_venv()

import csv  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import average_precision_score, log_loss, roc_auc_score  # noqa: E402
from sklearn.model_selection import StratifiedKFold  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

sys.path.insert(0, str(HERE))
import featurize  # noqa: E402

DATA_DIR = Path(os.environ.get("PRICELET_DATA", HERE.parent.parent / "shared" / "data"))
SHOPPERS = DATA_DIR / "online_shoppers_intention.csv"
SEED = 20261129
CLAMP = 1e-6

INTEREST_FEATURES = [
    "admin_pages", "admin_seconds", "info_pages", "info_seconds", "product_pages", "product_seconds",
    "bounce_rate_avg", "exit_rate_avg", "page_value_avg", "special_day",
    "month_feb", "month_mar", "month_may", "month_jun", "month_jul", "month_aug", "month_sep",
    "month_oct", "month_nov", "month_dec", "weekend", "returning_visitor",
]


# ---- metrics (pricelet evaluate computes the same in Rust) -------------------------------------

def ece(y, p, bins=10):
    """Expected calibration error with equal-width bins over [0, 1]."""
    idx = np.minimum((p * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            total += m.sum() / len(p) * abs(y[m].mean() - p[m].mean())
    return float(total)


def calibration_table(y, p, bins=10):
    idx = np.minimum((p * bins).astype(int), bins - 1)
    rows = []
    for b in range(bins):
        m = idx == b
        rows.append({"bin": f"{b / bins:.1f}-{(b + 1) / bins:.1f}", "n": int(m.sum()),
                     "meanPredicted": float(p[m].mean()) if m.any() else None,
                     "observedRate": float(y[m].mean()) if m.any() else None})
    return rows


def metrics(y, p):
    return {"n": int(len(y)), "auc": float(roc_auc_score(y, p)), "pr_auc": float(average_precision_score(y, p)),
            "log_loss": float(log_loss(y, p)), "ece": ece(y, p)}


# ---- data ----------------------------------------------------------------------------------------

def load_shoppers():
    if not SHOPPERS.exists():
        sys.exit(f"missing {SHOPPERS}: put the UCI Online Shoppers Purchasing Intention CSV there "
                 "(see README 'Data') or set PRICELET_DATA to its folder")
    with SHOPPERS.open(newline="") as f:
        rows = list(csv.DictReader(f))
    summaries = [featurize.summary_from_row(r) for r in rows]
    y = np.array([1 if r["Revenue"].strip().upper() == "TRUE" else 0 for r in rows])
    return summaries, y


# ---- models -------------------------------------------------------------------------------------

def fit_logistic(X, y):
    scaler = StandardScaler().fit(X)
    lr = LogisticRegression(C=1.0, max_iter=2000).fit(scaler.transform(X), y)
    # Fold the standardization into the weights: z = x·(w/σ) + (b − Σ μ w/σ).
    w = lr.coef_[0] / scaler.scale_
    b = lr.intercept_[0] - float(np.dot(scaler.mean_, w))
    return w, b


def predict_logistic(params, X):
    w, b = params
    return np.clip(1.0 / (1.0 + np.exp(-(X @ w + b))), CLAMP, 1 - CLAMP)


def export_logistic(params, names, path, version, trained_on):
    w, b = params
    f = len(names)
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["features", "W"], ["z0"]),
            helper.make_node("Add", ["z0", "B"], ["z"]),
            helper.make_node("Sigmoid", ["z"], ["p"]),
            helper.make_node("Clip", ["p", "lo", "hi"], ["interest"]),
        ],
        "pricelet_interest_logistic",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", f])],
        [helper.make_tensor_value_info("interest", TensorProto.FLOAT, ["N", 1])],
        initializer=[
            numpy_helper.from_array(w.reshape(f, 1).astype(np.float32), "W"),
            numpy_helper.from_array(np.array([b], dtype=np.float32), "B"),
            numpy_helper.from_array(np.array(CLAMP, dtype=np.float32), "lo"),
            numpy_helper.from_array(np.array(1 - CLAMP, dtype=np.float32), "hi"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="pricelet/train.py")
    model.ir_version = 8
    helper.set_model_props(model, {
        "pricelet.kind": "interest",
        "pricelet.features": ",".join(names),
        "pricelet.model_version": version,
        "pricelet.trained_on": trained_on,
    })
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def run_onnx(path, X32):
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return sess.run(["interest"], {"features": X32})[0][:, 0]


# ---- cross-validation ------------------------------------------------------------------------

def cross_validate(X, y):
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=SEED)
    per_fold, oof = [], np.zeros(len(y))
    for train, test in folds.split(X, y):
        params = fit_logistic(X[train], y[train])
        p = predict_logistic(params, X[test])
        oof[test] = p
        per_fold.append(metrics(y[test], p))
    summary = {k: {"mean": float(np.mean([m[k] for m in per_fold])), "std": float(np.std([m[k] for m in per_fold], ddof=1))}
               for k in ("auc", "pr_auc", "log_loss", "ece")}
    return {"folds": per_fold, "summary": summary, "calibration": calibration_table(y, oof)}


# ---- test vectors ------------------------------------------------------------------------------

def synthetic_logs(n=40):
    """Deterministic synthetic event logs covering sessions, dwell rules, purchases, clocks."""
    rng = random.Random(SEED)
    base = featurize.days_from_civil(2026, 11, 29) * featurize.DAY_MS + 15 * 3600 * 1000
    special = [featurize.days_from_civil(2026, 2, 8) * featurize.DAY_MS, featurize.days_from_civil(2026, 5, 5) * featurize.DAY_MS]
    cases = []
    for i in range(n):
        now = base if i % 5 else special[i % 2] + 10 * 3600 * 1000
        now += rng.randrange(0, 7) * featurize.DAY_MS
        offset = rng.choice([0, 60, -300, 540, 330])
        events, t = [], now - rng.randrange(0, 3) * 86_400_000 - rng.randrange(3_600_000, 30 * 3_600_000)
        for _ in range(rng.randrange(0, 30)):
            t += rng.choice([5_000, 40_000, 300_000, 1_000_000, 2_000_000, 40 * 86_400_000 // 40])
            if t > now:
                break
            kind = rng.choice(["page_view"] * 6 + ["add_to_cart", "remove_from_cart", "purchase"])
            ev = {"type": kind, "at": t}
            if kind == "page_view":
                page = {"kind": rng.choice(["administrative", "informational", "product", "product"])}
                if page["kind"] == "product":
                    page["id"] = rng.choice(["sku-1", "sku-2", "sku-3"])
                    ev["category"] = rng.choice(["mens", "womens", "home"])
                if rng.random() < 0.7:
                    page["bounceRate"] = round(rng.random() * 0.2, 4)
                if rng.random() < 0.7:
                    page["exitRate"] = round(rng.random() * 0.3, 4)
                if rng.random() < 0.5:
                    page["pageValue"] = round(rng.random() * 40, 3)
                ev["page"] = page
                if rng.random() < 0.4:
                    ev["dwellMs"] = rng.randrange(0, 600_000)
            elif kind in ("add_to_cart", "remove_from_cart"):
                ev["itemId"] = rng.choice(["sku-1", "sku-2"])
                if rng.random() < 0.5:
                    ev["quantity"] = rng.randrange(1, 4)
            else:
                cur = rng.choice(["EUR", "JPY", "KWD"])
                ev["currency"] = cur
                ev["amount"] = {"EUR": "49.99", "JPY": "12800", "KWD": "1.250"}[cur]
                ev["category"] = rng.choice(["mens", "womens", "home"])
                ev["at"] = t - rng.choice([0, 100, 200, 400, 800]) * featurize.DAY_MS
            events.append(ev)
        item = rng.choice([("sku-1", "mens"), ("sku-2", None), ("sku-9", "home")])
        s = featurize.summaries_from_events(events, now, offset, item[0], item[1])
        names = [f["name"] for f in featurize.SPEC["features"]]
        feats = dict(zip(names, [float(np.float32(v)) for v in featurize.vector(names, s)]))
        cases.append({"name": f"log-{i}", "now": now, "utcOffsetMinutes": offset, "item": {"id": item[0], "category": item[1]},
                      "events": events, "summary": s, "features": feats})
    return cases


# ---- model card --------------------------------------------------------------------------------

def fmt(m):
    return f"{m['mean']:.4f} ± {m['std']:.4f}"


def write_card(cv, insample, n, positives, names):
    s = cv["summary"]
    def num(x):
        return "" if x is None else f"{x:.3f}"

    cal = "\n".join(f"| {r['bin']} | {r['n']} | {num(r['meanPredicted'])} | {num(r['observedRate'])} |" for r in cv["calibration"])
    folds = "\n".join(f"| {i + 1} | {m['auc']:.4f} | {m['pr_auc']:.4f} | {m['log_loss']:.4f} | {m['ece']:.4f} |" for i, m in enumerate(cv["folds"]))
    text = f"""# Model card: pricelet interest model

*Generated by `python3 models/train.py`; the numbers below are from the last run.*

## What it predicts
`interest` = P(the session ends in a purchase | the shopper's on-device behaviour so far, no extra discount).
The pricing strategies read it as the shopper's purchase probability *r* (DESIGN.md §3).

## Data
UCI "Online Shoppers Purchasing Intention" (Sakar, Polat, Katircioglu, Kastro 2019, CC BY 4.0), the
stratified 80 % share in `../shared/data/online_shoppers_intention.csv`: {n} sessions, {positives}
with `Revenue = TRUE` ({positives / n:.1%}). The file is not in this repository.

## Features
Only what a device can compute (see `models/features.json` for meaning, unit, source and transform of each):
`{", ".join(names)}`.
`OperatingSystems`, `Browser`, `Region` and `TrafficType` are not used: they are not behaviour and a
storefront should not fingerprint them. `BounceRates`, `ExitRates` and `PageValues` are public per-page
metrics the storefront ships with each page, not personal data.

Known quirks, handled the same way in training and on the device:
- Google Analytics durations are seconds and give the exit page 0 s; the device counts a page's dwell as
  `dwellMs` if the storefront reports it, else the time to the next page view, and the newest page as 0 s.
- The rows are **finished** sessions while a device scores a session **in progress**: early in a visit the
  counts are smaller than any finished session's, so scores then are conservative (lower) until the visit
  develops. This is a known train/serve gap; the test vectors check the arithmetic, not this gap.
- `Month` never takes January or April in the data, so those months are all-zero one-hots.

## Model
Logistic regression (scikit-learn, C = 1) on the log1p/identity transforms of features.json, standardization
folded into the weights, exported as a plain ONNX graph (MatMul, Add, Sigmoid, Clip to [{CLAMP}, 1 − {CLAMP}])
that tract runs in the browser. Model version `{insample['version']}`.

## 5-fold stratified cross-validation (seed {SEED})
| metric | mean ± std over folds |
|---|---|
| ROC AUC | {fmt(s['auc'])} |
| PR AUC (average precision) | {fmt(s['pr_auc'])} |
| log loss | {fmt(s['log_loss'])} |
| ECE (10 equal-width bins) | {fmt(s['ece'])} |

| fold | AUC | PR AUC | log loss | ECE |
|---|---|---|---|---|
{folds}

Calibration of the out-of-fold predictions:

| predicted bin | n | mean predicted | observed purchase rate |
|---|---|---|---|
{cal}

## The exported model on the training file (in-sample, through onnxruntime)
n = {insample['n']}, AUC {insample['auc']:.6f}, PR AUC {insample['pr_auc']:.6f}, log loss {insample['log_loss']:.6f}, ECE {insample['ece']:.6f}.
`pricelet evaluate --model models/interest.onnx --data ../shared/data/online_shoppers_intention.csv`
reproduces these through the Rust feature path and tract (tested to 1e-4 in `cargo test`).

## Limits
Trained on one retailer's 2017-era sessions; scores are probabilities for *that* population. The
discount response (β) in the default policy is an assumption, not estimated from this data.
"""
    (HERE / "README.md").write_text(text)


def main():
    summaries, y = load_shoppers()
    X = featurize.matrix(INTEREST_FEATURES, summaries)
    cv = cross_validate(X, y)
    params = fit_logistic(X, y)
    version = "interest-lr-2026.11.1"
    path = HERE / "interest.onnx"
    export_logistic(params, INTEREST_FEATURES, path, version, "online_shoppers_intention.csv (UCI #468, 80% stratified share)")
    X32 = X.astype(np.float32)
    p_onnx = run_onnx(path, X32)
    insample = {"version": version, **metrics(y, p_onnx.astype(np.float64))}
    (HERE / "interest.metrics.json").write_text(json.dumps({"cv": cv, "insample": insample}, indent=2) + "\n")
    # Parity: real rows plus edge cases, as the f32 inputs the model sees.
    extra = np.zeros((4, X.shape[1]), dtype=np.float32)
    extra[1, :] = 1.0
    extra[2, :] = 10.0
    extra[3, 8] = 6.0
    parity_in = np.vstack([X32[:200], extra])
    parity = {"model": "interest.onnx", "featureNames": INTEREST_FEATURES, "inputs": parity_in.astype(float).tolist(),
              "outputs": run_onnx(path, parity_in).astype(float).tolist()}
    (HERE / "interest.parity.json").write_text(json.dumps(parity) + "\n")
    (HERE / "feature_vectors.json").write_text(json.dumps({"cases": synthetic_logs()}, indent=1) + "\n")
    write_card(cv, insample, len(y), int(y.sum()), INTEREST_FEATURES)
    s = cv["summary"]
    print(json.dumps({"cv_auc": fmt(s["auc"]), "cv_ece": fmt(s["ece"]), "insample": insample}, indent=1))


if __name__ == "__main__":
    main()
