#!/usr/bin/env python3
"""Train pricelet's models on the real data and export them for tract.

    python3 models/train.py            # creates models/.venv (pinned requirements), trains, writes:
      models/interest.onnx                  interest v2 (features f32 [N,F] -> interest [N,1], pricelet metadata)
      models/interest-behaviour.onnx        interest without page_value_avg (behaviour only)
      models/uplift.onnx                    uplift model on Hillstrom (features -> uplift [N,1])
      models/hillstrom-response.onnx       the response-only baseline on Hillstrom (P(visit | e-mail))
      models/interest-gemm.onnx             the interest model's trees in the earlier "GEMM" tensor form (bench, tests)
      models/<stem>.parity.json             inputs + onnxruntime outputs for each model (tract must match to 1e-5)
      tests/fixtures/models/                an MLP + isotonic model and its parity file: the operators the shipped models do not use
      models/interest.metrics.json          CV metrics of every candidate, the exported models' in-sample metrics
      models/uplift.metrics.json            CV Qini / uplift@30 of every learner and baseline, in-sample metrics
      models/feature_vectors.json           synthetic event logs -> summaries -> features (Rust must match)
      models/README.md                      the model card (reads models/simulate-*.json, written by `pricelet simulate`)

    python3 models/train.py --card     # only rewrites models/README.md from the stored metrics and simulate files

Data: ../shared/data/{online_shoppers_intention,hillstrom}.csv (or the folder in $PRICELET_DATA).
Everything is seeded and single-threaded; a re-run reproduces the same files byte for byte.
"""

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENV = HERE / ".venv"

# One thread everywhere: reproducible sums (BLAS, OpenMP, onnxruntime) and fair on a shared machine.
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"


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
import warnings  # noqa: E402

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from sklearn.ensemble import HistGradientBoostingClassifier  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.isotonic import IsotonicRegression  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import average_precision_score, log_loss, roc_auc_score  # noqa: E402
from sklearn.model_selection import StratifiedKFold  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from sklift.metrics import qini_auc_score, uplift_at_k  # noqa: E402

# sklift 0.5.1 calls sklearn's deprecated stable_cumsum (FutureWarning only); MLP early stopping may
# end before tol is reached (ConvergenceWarning). Neither changes a number.
warnings.filterwarnings("ignore", category=FutureWarning)
warnings.filterwarnings("ignore", category=ConvergenceWarning)

sys.path.insert(0, str(HERE))
import card  # noqa: E402
import featurize  # noqa: E402

DATA_DIR = Path(os.environ.get("PRICELET_DATA", HERE.parent.parent / "shared" / "data"))
SHOPPERS = DATA_DIR / "online_shoppers_intention.csv"
HILLSTROM = DATA_DIR / "hillstrom.csv"
SEED = 20261129
CLAMP = 1e-6
ISO_CLAMP = 1e-4
SIZE_BUDGET = 300 * 1024
SHOPPERS_SOURCE = "online_shoppers_intention.csv (UCI #468, 80% stratified share)"
HILLSTROM_SOURCE = "hillstrom.csv (MineThatData e-mail test 2008, 51,200-row share; Womens E-Mail vs No E-Mail)"

INTEREST_FEATURES = [
    "admin_pages", "admin_seconds", "info_pages", "info_seconds", "product_pages", "product_seconds",
    "bounce_rate_avg", "exit_rate_avg", "page_value_avg", "special_day",
    "month_feb", "month_mar", "month_may", "month_jun", "month_jul", "month_aug", "month_sep",
    "month_oct", "month_nov", "month_dec", "weekend", "returning_visitor",
]
BEHAVIOUR_FEATURES = [f for f in INTEREST_FEATURES if f != "page_value_avg"]
HISTORY_FEATURES = ["recency_months", "spend_12m", "bought_mens", "bought_womens", "new_customer"]


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


def uplift_metrics(y, score, t):
    """scikit-uplift 0.5.1: normalized Qini (`qini_auc_score`, negative_effect=True) and
    `uplift_at_k(k=0.3, strategy='overall')`. Rust's evaluate.rs implements the same definitions."""
    return {"n": int(len(y)), "qini": float(qini_auc_score(y, score, t)),
            "uplift_at_30": float(uplift_at_k(y, score, t, strategy="overall", k=0.3))}


def summarize(per_fold, keys):
    return {k: {"mean": float(np.mean([m[k] for m in per_fold])), "std": float(np.std([m[k] for m in per_fold], ddof=1))}
            for k in keys}


# ---- data ----------------------------------------------------------------------------------------

def need(path):
    if not path.exists():
        sys.exit(f"missing {path}: put the dataset there (see README 'Data') or set PRICELET_DATA to its folder")


def load_shoppers():
    need(SHOPPERS)
    with SHOPPERS.open(newline="") as f:
        rows = list(csv.DictReader(f))
    summaries = [featurize.summary_from_row(r) for r in rows]
    y = np.array([1 if r["Revenue"].strip().upper() == "TRUE" else 0 for r in rows])
    return summaries, y


def load_hillstrom():
    """Womens E-Mail (treatment) and No E-Mail (control) rows; Mens E-Mail rows are dropped."""
    need(HILLSTROM)
    with HILLSTROM.open(newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["segment"].strip() in ("Womens E-Mail", "No E-Mail")]
    histories = [featurize.history_from_row(r) for r in rows]
    y = np.array([int(r["visit"]) for r in rows])
    t = np.array([1 if r["segment"].strip() == "Womens E-Mail" else 0 for r in rows])
    return histories, y, t


def f32(X):
    """Features as the model sees them (rounded to float32 once), kept in float64 for scikit-learn."""
    return X.astype(np.float32).astype(np.float64)


# ---- ONNX building blocks ------------------------------------------------------------------------

def const(name, array, dtype=np.float32):
    return numpy_helper.from_array(np.asarray(array, dtype=dtype), name)


def finish_model(nodes, inits, names, kind, version, trained_on, graph_name, ml=False):
    """A pricelet model: input `features` f32 [N, F], output `<kind>` f32 [N, 1], pricelet metadata."""
    graph = helper.make_graph(
        nodes, graph_name,
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", len(names)])],
        [helper.make_tensor_value_info(kind, TensorProto.FLOAT, ["N", 1])],
        initializer=inits,
    )
    opsets = [helper.make_opsetid("", 13)] + ([helper.make_opsetid("ai.onnx.ml", 3)] if ml else [])
    model = helper.make_model(graph, opset_imports=opsets, producer_name="pricelet/train.py")
    model.ir_version = 8
    helper.set_model_props(model, {
        "pricelet.kind": kind,
        "pricelet.features": ",".join(names),
        "pricelet.model_version": version,
        "pricelet.trained_on": trained_on,
    })
    onnx.checker.check_model(model)
    return model.SerializeToString()


def session(model_bytes):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(model_bytes, opts, providers=["CPUExecutionProvider"])


def run_onnx(model_bytes, X32, output="interest"):
    return session(model_bytes).run([output], {"features": X32.astype(np.float32)})[0][:, 0]


def round_down_f32(t):
    """The largest float32 <= t: for every float32 x, x <= t exactly when x <= round_down_f32(t)."""
    v = np.float32(t)
    if float(v) > t:
        v = np.nextafter(v, np.float32(-np.inf), dtype=np.float32)
    return float(v)


# ---- candidate families: raw score z (a logit), exported as ONNX nodes ending in `z` -------------

class Logistic:
    name = "logistic"
    label = "logistic regression (C = 1)"

    def fit(self, X, y):
        scaler = StandardScaler().fit(X)
        lr = LogisticRegression(C=1.0, max_iter=2000).fit(scaler.transform(X), y)
        # Fold the standardization into the weights: z = x·(w/σ) + (b − Σ μ w/σ).
        self.w = lr.coef_[0] / scaler.scale_
        self.b = lr.intercept_[0] - float(np.dot(scaler.mean_, self.w))
        return self

    def raw(self, X):
        return X @ self.w + self.b

    def nodes(self, a=1.0, b=0.0):
        """Nodes computing a·z + b into `z` (Platt folded into the weights)."""
        f = len(self.w)
        return ([helper.make_node("MatMul", ["features", "W"], ["z0"]), helper.make_node("Add", ["z0", "B"], ["z"])],
                [const("W", (a * self.w).reshape(f, 1)), const("B", [a * self.b + b])], False)


class Mlp:
    name = "mlp"
    label = "MLP (one hidden layer of 16 ReLU units, L2 0.01, Adam with early stopping)"

    def fit(self, X, y):
        self.scaler = StandardScaler().fit(X)
        self.mlp = MLPClassifier(hidden_layer_sizes=(16,), alpha=1e-2, max_iter=300, early_stopping=True,
                                 validation_fraction=0.1, n_iter_no_change=10, random_state=SEED).fit(self.scaler.transform(X), y)
        return self

    def raw(self, X):
        h = self.scaler.transform(X)
        for i, (W, c) in enumerate(zip(self.mlp.coefs_, self.mlp.intercepts_)):
            h = h @ W + c
            if i < len(self.mlp.coefs_) - 1:
                h = np.maximum(h, 0.0)
        return h[:, 0]

    def nodes(self, a=1.0, b=0.0):
        W1, W2 = self.mlp.coefs_
        c1, c2 = self.mlp.intercepts_
        # Standardization folded into the first layer, Platt into the last.
        W1f = W1 / self.scaler.scale_[:, None]
        c1f = c1 - self.scaler.mean_ @ W1f
        return ([helper.make_node("Gemm", ["features", "W1", "C1"], ["h1"]),
                 helper.make_node("Relu", ["h1"], ["r1"]),
                 helper.make_node("Gemm", ["r1", "W2", "C2"], ["z"])],
                [const("W1", W1f), const("C1", c1f), const("W2", a * W2), const("C2", a * c2 + b)], False)


class Trees:
    name = "gbt"
    label = "gradient-boosted trees (scikit-learn HistGradientBoostingClassifier: 200 trees of ≤ 8 leaves, learning rate 0.05, ≥ 40 rows a leaf, L2 1)"

    def __init__(self, max_iter=200, min_samples_leaf=40):
        self.max_iter, self.min_samples_leaf = max_iter, min_samples_leaf

    def fit(self, X, y):
        self.est = HistGradientBoostingClassifier(max_iter=self.max_iter, learning_rate=0.05, max_leaf_nodes=8,
                                                  min_samples_leaf=self.min_samples_leaf, l2_regularization=1.0,
                                                  early_stopping=False, random_state=SEED).fit(X, y)
        return self

    def raw(self, X):
        return self.est.decision_function(X)

    def tree_ensemble(self, scale=1.0, offset=0.0, inp="features", out="z"):
        """The trees as one standard ai.onnx.ml TreeEnsembleRegressor node (the form scikit-learn's ONNX
        converters write and onnxruntime runs natively), giving scale·(baseline + Σ leaf values) + offset in
        `out` [N, 1]. Node i of a tree keeps scikit-learn's numbering; x[feature] ≤ threshold takes the left
        (true) branch, as in scikit-learn. Thresholds are rounded down to float32, so a float32 input takes the
        same branch as in scikit-learn."""
        a = {k: [] for k in ("nodes_treeids", "nodes_nodeids", "nodes_featureids", "nodes_modes", "nodes_values",
                             "nodes_truenodeids", "nodes_falsenodeids", "nodes_missing_value_tracks_true",
                             "target_treeids", "target_nodeids", "target_ids", "target_weights")}
        for t, predictor in enumerate(self.est._predictors):
            for i, n in enumerate(predictor[0].nodes):
                leaf = bool(n["is_leaf"])
                a["nodes_treeids"].append(t)
                a["nodes_nodeids"].append(i)
                a["nodes_featureids"].append(0 if leaf else int(n["feature_idx"]))
                a["nodes_modes"].append("LEAF" if leaf else "BRANCH_LEQ")
                a["nodes_values"].append(0.0 if leaf else round_down_f32(float(n["num_threshold"])))
                a["nodes_truenodeids"].append(0 if leaf else int(n["left"]))
                a["nodes_falsenodeids"].append(0 if leaf else int(n["right"]))
                a["nodes_missing_value_tracks_true"].append(0 if leaf else int(n["missing_go_to_left"]))
                if leaf:
                    a["target_treeids"].append(t)
                    a["target_nodeids"].append(i)
                    a["target_ids"].append(0)
                    a["target_weights"].append(scale * float(n["value"]))
        base = scale * float(np.ravel(self.est._baseline_prediction)[0]) + offset
        node = helper.make_node("TreeEnsembleRegressor", [inp], [out], domain="ai.onnx.ml", n_targets=1,
                                aggregate_function="SUM", post_transform="NONE", base_values=[base], **a)
        return [node], []

    def gemm_ensemble(self, scale=1.0, offset=0.0, inp="features"):
        """The same trees as dense tensor maths in standard ONNX ops (the "GEMM" strategy of Hummingbird,
        Nakandala et al., OSDI 2020), giving `z` [N, 1]: the form pricelet shipped before it ran tree ensembles
        natively (models/interest-gemm.onnx keeps it, for the benchmark and a cross-check test). Per tree, padded
        to I internal nodes and L leaves: b = [x[feature_k] ≤ threshold_k] (Gather, LessOrEqual, Cast); c = b·P
        (MatMul), where P[k, l] = +1 if leaf l lies under node k's true branch, −1 under its false branch, 0
        otherwise; the leaf reached is the one with c_l = E_l, its number of true branches (Equal); its value is
        picked by a MatMul."""
        trees = [predictor[0].nodes for predictor in self.est._predictors]
        n_internal = max(1, max(int((~nodes["is_leaf"].astype(bool)).sum()) for nodes in trees))
        n_leaves = max(int(nodes["is_leaf"].sum()) for nodes in trees)
        T, I, L = len(trees), n_internal, n_leaves
        feat = np.zeros((T, I), dtype=np.int64)
        thr = np.full((T, I), np.finfo(np.float32).max, dtype=np.float32)
        P = np.zeros((T, I, L), dtype=np.float32)
        E = np.full((T, L), -1.0, dtype=np.float32)  # padding leaves: never reached (c is 0 there)
        V = np.zeros((T, L), dtype=np.float32)
        for t, nodes in enumerate(trees):
            internal, leaves = [0], [0]
            stack = [(0, [])]
            while stack:
                i, path = stack.pop()
                n = nodes[i]
                if n["is_leaf"]:
                    leaf = leaves[0]
                    leaves[0] += 1
                    for k, went_true in path:
                        P[t, k, leaf] = 1.0 if went_true else -1.0
                    E[t, leaf] = float(sum(1 for _, went_true in path if went_true))
                    V[t, leaf] = scale * float(n["value"])
                else:
                    k = internal[0]
                    internal[0] += 1
                    feat[t, k] = int(n["feature_idx"])
                    thr[t, k] = round_down_f32(float(n["num_threshold"]))
                    stack.append((int(n["right"]), path + [(k, False)]))
                    stack.append((int(n["left"]), path + [(k, True)]))
        base = scale * float(np.ravel(self.est._baseline_prediction)[0]) + offset
        nodes = [
            helper.make_node("Gather", [inp, "feat"], ["x"], axis=1),
            helper.make_node("LessOrEqual", ["x", "thr"], ["le"]),
            helper.make_node("Cast", ["le"], ["b"], to=TensorProto.FLOAT),
            helper.make_node("Reshape", ["b", "shape_b"], ["b4"]),
            helper.make_node("MatMul", ["b4", "paths"], ["c"]),
            helper.make_node("Equal", ["c", "trues"], ["eq"]),
            helper.make_node("Cast", ["eq"], ["d"], to=TensorProto.FLOAT),
            helper.make_node("Reshape", ["d", "shape_d"], ["d2"]),
            helper.make_node("MatMul", ["d2", "values"], ["s"]),
            helper.make_node("Add", ["s", "base"], ["z"]),
        ]
        inits = [
            const("feat", feat.reshape(-1), np.int64), const("thr", thr.reshape(-1)),
            const("shape_b", [-1, T, 1, I], np.int64), const("paths", P),
            const("trues", E.reshape(T, 1, L)), const("shape_d", [-1, T * L], np.int64),
            const("values", V.reshape(-1, 1)), const("base", [base]),
        ]
        return nodes, inits

    def nodes(self, a=1.0, b=0.0):
        nodes, inits = self.tree_ensemble(a, b)
        return nodes, inits, True


FAMILIES = [Logistic, Mlp, Trees]


# ---- calibration, folded into the graph ----------------------------------------------------------

class Platt:
    name = "platt"

    def fit(self, z, y):
        lr = LogisticRegression(C=1e6, max_iter=1000).fit(z.reshape(-1, 1), y)
        self.a, self.b = float(lr.coef_[0, 0]), float(lr.intercept_[0])
        return self

    def nodes(self):
        """σ(a·z + b): a and b are folded into the family's last layer; here only Sigmoid and Clip."""
        return ([helper.make_node("Sigmoid", ["z"], ["p"]), helper.make_node("Clip", ["p", "lo", "hi"], ["interest"])],
                [const("lo", CLAMP), const("hi", 1 - CLAMP)])


class Isotonic:
    name = "isotonic"

    def fit(self, z, y):
        iso = IsotonicRegression(out_of_bounds="clip", y_min=ISO_CLAMP, y_max=1 - ISO_CLAMP).fit(z, y)
        self.x, self.y = iso.X_thresholds_.astype(np.float64), iso.y_thresholds_.astype(np.float64)
        self.a, self.b = 1.0, 0.0
        return self

    def nodes(self):
        """np.interp(z, x, y) clipped at the ends, as y₀ + Σ_k s_k · min(relu(z − x_k), x_{k+1} − x_k)."""
        widths = np.diff(self.x)
        slopes = np.diff(self.y) / widths
        return ([helper.make_node("Sub", ["z", "iso_x"], ["iso_d"]),
                 helper.make_node("Relu", ["iso_d"], ["iso_r"]),
                 helper.make_node("Min", ["iso_r", "iso_w"], ["iso_c"]),
                 helper.make_node("MatMul", ["iso_c", "iso_s"], ["iso_m"]),
                 helper.make_node("Add", ["iso_m", "iso_y0"], ["p"]),
                 helper.make_node("Clip", ["p", "lo", "hi"], ["interest"])],
                [const("iso_x", self.x[:-1]), const("iso_w", widths), const("iso_s", slopes.reshape(-1, 1)),
                 const("iso_y0", [self.y[0]]), const("lo", ISO_CLAMP), const("hi", 1 - ISO_CLAMP)])


CALIBRATORS = [Platt, Isotonic]


def export_interest(model, cal, names, version, trained_on, gemm=False):
    fam_nodes, fam_inits, ml = (*model.gemm_ensemble(cal.a, cal.b), False) if gemm else model.nodes(cal.a, cal.b)
    cal_nodes, cal_inits = cal.nodes()
    return finish_model(fam_nodes + cal_nodes, fam_inits + cal_inits, names, "interest", version, trained_on,
                        f"pricelet_interest_{model.name}_{cal.name}", ml)


def calibrated_fit(family, X, y):
    """Fits the model on all of (X, y) and both calibrators on its 5-fold out-of-fold raw scores."""
    inner = StratifiedKFold(n_splits=5, shuffle=True, random_state=SEED)
    oof = np.zeros(len(y))
    for a, b in inner.split(X, y):
        oof[b] = family().fit(X[a], y[a]).raw(X[b])
    model = family().fit(X, y)
    return model, {c.name: c().fit(oof, y) for c in CALIBRATORS}


# ---- cross-validation ------------------------------------------------------------------------

def cross_validate_interest(X, y, names, tag):
    """5-fold stratified CV (the same seeded folds for every candidate). Calibration is fitted inside each
    training fold on inner out-of-fold scores; the metrics are of the exported ONNX graph on the test fold."""
    folds = list(StratifiedKFold(n_splits=5, shuffle=True, random_state=SEED).split(X, y))
    out = {}
    for family in FAMILIES:
        per = {c.name: {"folds": [], "oof": np.zeros(len(y)), "bytes": []} for c in CALIBRATORS}
        for train, test in folds:
            model, cals = calibrated_fit(family, X[train], y[train])
            for cname, cal in cals.items():
                blob = export_interest(model, cal, names, "cv", "cv")
                p = run_onnx(blob, X[test]).astype(np.float64)
                per[cname]["oof"][test] = p
                per[cname]["folds"].append(metrics(y[test], p))
                per[cname]["bytes"].append(len(blob))
        for cname, r in per.items():
            key = f"{family.name}+{cname}"
            out[key] = {"family": family.name, "calibration": cname, "label": family.label,
                        "folds": r["folds"], "summary": summarize(r["folds"], ("auc", "pr_auc", "log_loss", "ece")),
                        "calibration_table": calibration_table(y, r["oof"]), "bytes": int(max(r["bytes"]))}
            s = out[key]["summary"]
            print(f"[{tag}] {key:18s} AUC {card.fmt(s['auc'])}  log loss {card.fmt(s['log_loss'])}  ECE {card.fmt(s['ece'])}  {out[key]['bytes']} B",
                  file=sys.stderr)
    return out


def choose(candidates):
    """The smallest mean CV log loss (a proper score: discrimination and calibration together) among the
    candidates whose exported graph fits the size budget."""
    fits = {k: v for k, v in candidates.items() if v["bytes"] <= SIZE_BUDGET}
    return min(fits, key=lambda k: (fits[k]["summary"]["log_loss"]["mean"], k))


def ship_interest(X, y, names, cv, stem, version):
    key = choose(cv)
    family = next(f for f in FAMILIES if f.name == cv[key]["family"])
    model, cals = calibrated_fit(family, X, y)
    blob = export_interest(model, cals[cv[key]["calibration"]], names, version, SHOPPERS_SOURCE)
    (HERE / f"{stem}.onnx").write_bytes(blob)
    X32 = X.astype(np.float32)
    insample = {"version": version, "candidate": key, "bytes": len(blob), **metrics(y, run_onnx(blob, X32).astype(np.float64))}
    write_parity(stem, blob, names, X32, "interest", [("ones", 1.0), ("tens", 10.0)], big=names.index("product_pages"))
    if stem == "interest" and isinstance(model, Trees):
        gemm = export_interest(model, cals[cv[key]["calibration"]], names, version, SHOPPERS_SOURCE, gemm=True)
        (HERE / "interest-gemm.onnx").write_bytes(gemm)
        gap = float(np.abs(run_onnx(gemm, X32) - run_onnx(blob, X32)).max())
        assert gap <= 1e-5, f"the GEMM form differs from the tree ensemble by {gap}"
    return insample


def write_parity(stem, blob, names, X32, output, fills, big=None, folder=None):
    """Real rows plus edge cases, as the f32 inputs the model sees, and onnxruntime's outputs."""
    extra = [np.zeros(len(names), dtype=np.float32)] + [np.full(len(names), v, dtype=np.float32) for _, v in fills]
    if big is not None:
        row = np.zeros(len(names), dtype=np.float32)
        row[big] = 8.0
        extra.append(row)
    parity_in = np.vstack([X32[:200], np.array(extra)]).astype(np.float32)
    parity = {"model": f"{stem}.onnx", "featureNames": names, "inputs": parity_in.astype(float).tolist(),
              "outputs": run_onnx(blob, parity_in, output).astype(float).tolist()}
    ((folder or HERE) / f"{stem}.parity.json").write_text(json.dumps(parity) + "\n")


def export_operator_fixture(X, y, names):
    """tests/fixtures/models/interest-mlp-isotonic.onnx: the MLP with isotonic calibration, a candidate that is
    not shipped but uses the operators the shipped models do not (Gemm, Relu, Min), so tract's run of every
    allowed operator is held to onnxruntime (`cargo test --test models`)."""
    folder = HERE.parent / "tests" / "fixtures" / "models"
    folder.mkdir(parents=True, exist_ok=True)
    model, cals = calibrated_fit(Mlp, X, y)
    blob = export_interest(model, cals["isotonic"], names, "interest-mlp-isotonic-fixture", SHOPPERS_SOURCE)
    (folder / "interest-mlp-isotonic.onnx").write_bytes(blob)
    write_parity("interest-mlp-isotonic", blob, names, X.astype(np.float32), "interest", [("ones", 1.0), ("tens", 10.0)],
                 big=names.index("product_pages"), folder=folder)


# ---- uplift ------------------------------------------------------------------------------------

def s_learner_design(X, t):
    """The S-learner's design: x, the treatment flag, and x·t (so the offer's effect varies with x)."""
    return np.hstack([X, t[:, None], X * t[:, None]])


class SLearner:
    name = "s-learner-lr"
    label = "S-learner: one logistic regression on (x, t, x·t)"
    exportable = True

    def fit(self, X, y, t):
        scaler = StandardScaler().fit(s_learner_design(X, t))
        lr = LogisticRegression(C=1.0, max_iter=2000).fit(scaler.transform(s_learner_design(X, t)), y)
        # Each arm's logit is affine in x: read it off at x = 0 and x = e_j.
        def logit_fn(arm):
            def f(Xq):
                return lr.decision_function(scaler.transform(s_learner_design(Xq, np.full(len(Xq), float(arm)))))
            zero = np.zeros((1, X.shape[1]))
            b = f(zero)[0]
            w = f(np.eye(X.shape[1])) - b
            return w, b
        self.arms = {1: logit_fn(1), 0: logit_fn(0)}
        return self

    def prob(self, X, arm):
        w, b = self.arms[arm]
        return 1.0 / (1.0 + np.exp(-(X @ w + b)))

    def uplift(self, X):
        return self.prob(X, 1) - self.prob(X, 0)

    def export(self, names, version, trained_on):
        nodes, inits = [], []
        for arm in (1, 0):
            w, b = self.arms[arm]
            nodes += [helper.make_node("MatMul", ["features", f"W{arm}"], [f"z{arm}0"]),
                      helper.make_node("Add", [f"z{arm}0", f"B{arm}"], [f"z{arm}"]),
                      helper.make_node("Sigmoid", [f"z{arm}"], [f"p{arm}"])]
            inits += [const(f"W{arm}", w.reshape(-1, 1)), const(f"B{arm}", [b])]
        nodes.append(helper.make_node("Sub", ["p1", "p0"], ["uplift"]))
        return finish_model(nodes, inits, names, "uplift", version, trained_on, "pricelet_uplift_s_learner")


class TLearner:
    name = "t-learner-lr"
    label = "T-learner: one logistic regression per arm"
    exportable = True

    def fit(self, X, y, t):
        self.arms = {arm: Logistic().fit(X[t == arm], y[t == arm]) for arm in (0, 1)}
        return self

    def uplift(self, X):
        p = {arm: 1.0 / (1.0 + np.exp(-m.raw(X))) for arm, m in self.arms.items()}
        return p[1] - p[0]


class SLearnerTrees:
    name = "s-learner-gbt"
    label = "S-learner: gradient-boosted trees on (x, t)"
    exportable = False

    def fit(self, X, y, t):
        self.m = Trees(max_iter=100, min_samples_leaf=200).fit(np.hstack([X, t[:, None]]), y)
        return self

    def uplift(self, X):
        one = np.ones((len(X), 1))
        p = lambda arm: 1.0 / (1.0 + np.exp(-self.m.raw(np.hstack([X, arm * one]))))  # noqa: E731
        return p(1) - p(0)


class TLearnerTrees:
    name = "t-learner-gbt"
    label = "T-learner: gradient-boosted trees per arm"
    exportable = False

    def fit(self, X, y, t):
        self.arms = {arm: Trees(max_iter=100, min_samples_leaf=200).fit(X[t == arm], y[t == arm]) for arm in (0, 1)}
        return self

    def uplift(self, X):
        p = {arm: 1.0 / (1.0 + np.exp(-m.raw(X))) for arm, m in self.arms.items()}
        return p[1] - p[0]


class Response:
    """The response-only baseline: P(visit | x) among e-mailed customers, its score used as the ranking."""
    name = "response-only"
    label = "response only: gradient-boosted trees for P(visit | x, e-mail), trained on the treated arm"

    def fit(self, X, y, t):
        self.m = Trees(max_iter=100, min_samples_leaf=200).fit(X[t == 1], y[t == 1])
        return self

    def uplift(self, X):
        return 1.0 / (1.0 + np.exp(-self.m.raw(X)))


class NoOfferInterest:
    name = "no-offer-interest"
    label = "interest only: the same trees for P(visit | x, no e-mail), trained on the control arm"

    def fit(self, X, y, t):
        self.m = Trees(max_iter=100, min_samples_leaf=200).fit(X[t == 0], y[t == 0])
        return self

    def uplift(self, X):
        return 1.0 / (1.0 + np.exp(-self.m.raw(X)))


class RandomScore:
    name = "random"
    label = "random ranking (seeded uniform scores)"

    def fit(self, X, y, t):
        return self

    def uplift(self, X):
        return np.random.default_rng(SEED + len(X)).random(len(X))


UPLIFT_CANDIDATES = [SLearner, TLearner, SLearnerTrees, TLearnerTrees, Response, NoOfferInterest, RandomScore]


def cross_validate_uplift(X, y, t):
    """The same 5 folds for every learner and baseline, stratified on (treatment, visit)."""
    folds = list(StratifiedKFold(n_splits=5, shuffle=True, random_state=SEED).split(X, 2 * t + y))
    out = {}
    for cand in UPLIFT_CANDIDATES:
        per_fold = []
        for train, test in folds:
            m = cand().fit(X[train], y[train], t[train])
            per_fold.append(uplift_metrics(y[test], m.uplift(X[test]), t[test]))
        out[cand.name] = {"label": cand.label, "folds": per_fold, "summary": summarize(per_fold, ("qini", "uplift_at_30"))}
        s = out[cand.name]["summary"]
        print(f"[uplift] {cand.name:18s} Qini {card.fmt(s['qini'])}  uplift@30 {card.fmt(s['uplift_at_30'])}", file=sys.stderr)
    return out


def ship_uplift(X, y, t, version):
    blob = SLearner().fit(X, y, t).export(HISTORY_FEATURES, version, HILLSTROM_SOURCE)
    (HERE / "uplift.onnx").write_bytes(blob)
    X32 = X.astype(np.float32)
    u = run_onnx(blob, X32, "uplift").astype(np.float64)
    write_parity("uplift", blob, HISTORY_FEATURES, X32, "uplift", [("ones", 1.0), ("twelves", 12.0)])
    arm = {a: float(y[t == a].mean()) for a in (0, 1)}
    return {"version": version, "bytes": len(blob), "n_treated": int(t.sum()), "n_control": int((1 - t).sum()),
            "treated_rate": arm[1], "control_rate": arm[0], "ate": arm[1] - arm[0],
            "mean_uplift": float(u.mean()), "share_positive": float((u > 0).mean()), **uplift_metrics(y, u, t)}


def ship_response(X, y, t, version):
    m = Response().fit(X, y, t).m
    nodes, inits, ml = m.nodes()
    cal_nodes, cal_inits = Platt().nodes()  # identity calibration (a = 1, b = 0): the trees' own probability
    blob = finish_model(nodes + cal_nodes, inits + cal_inits, HISTORY_FEATURES, "interest", version,
                        HILLSTROM_SOURCE + ", treated arm: P(visit | e-mail)", "pricelet_hillstrom_response", ml)
    (HERE / "hillstrom-response.onnx").write_bytes(blob)
    X32 = X.astype(np.float32)
    p = run_onnx(blob, X32).astype(np.float64)
    write_parity("hillstrom-response", blob, HISTORY_FEATURES, X32, "interest", [("ones", 1.0), ("twelves", 12.0)])
    return {"version": version, "bytes": len(blob), **uplift_metrics(y, p, t), **{k: v for k, v in metrics(y, p).items() if k != "n"}}


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

def main():
    summaries, y = load_shoppers()
    X_full = f32(featurize.matrix(INTEREST_FEATURES, summaries))
    X_beh = f32(featurize.matrix(BEHAVIOUR_FEATURES, summaries))
    cv_full = cross_validate_interest(X_full, y, INTEREST_FEATURES, "interest")
    cv_beh = cross_validate_interest(X_beh, y, BEHAVIOUR_FEATURES, "behaviour")
    insample = ship_interest(X_full, y, INTEREST_FEATURES, cv_full, "interest", "interest-v2-2026.11.2")
    insample_beh = ship_interest(X_beh, y, BEHAVIOUR_FEATURES, cv_beh, "interest-behaviour", "interest-behaviour-v2-2026.11.2")
    export_operator_fixture(X_full, y, INTEREST_FEATURES)
    interest_metrics = {"cv": {"interest": cv_full, "behaviour": cv_beh}, "insample": insample, "insample_behaviour": insample_beh}
    (HERE / "interest.metrics.json").write_text(json.dumps(interest_metrics, indent=1) + "\n")

    histories, hy, ht = load_hillstrom()
    H = f32(featurize.matrix(HISTORY_FEATURES, histories))
    cv_uplift = cross_validate_uplift(H, hy, ht)
    up = ship_uplift(H, hy, ht, "uplift-s-learner-2026.11.1")
    resp = ship_response(H, hy, ht, "hillstrom-response-2026.11.1")
    uplift_metrics_doc = {"cv": cv_uplift, "insample": up, "insample_response": resp}
    (HERE / "uplift.metrics.json").write_text(json.dumps(uplift_metrics_doc, indent=1) + "\n")

    (HERE / "feature_vectors.json").write_text(json.dumps({"cases": synthetic_logs()}, indent=1) + "\n")
    card.T = sys.modules[__name__]
    card.write_card(interest_metrics, uplift_metrics_doc, len(y), int(y.sum()))
    print(json.dumps({"interest": {k: insample[k] for k in ("candidate", "bytes", "auc", "ece")},
                      "behaviour": {k: insample_beh[k] for k in ("candidate", "bytes", "auc", "ece")},
                      "uplift": {k: up[k] for k in ("qini", "uplift_at_30")}}, indent=1))


def card_only():
    """`train.py --card`: rewrite models/README.md from the stored metrics and simulation files, no training."""
    im = json.loads((HERE / "interest.metrics.json").read_text())
    um = json.loads((HERE / "uplift.metrics.json").read_text())
    _, y = load_shoppers()
    card.T = sys.modules[__name__]
    card.write_card(im, um, len(y), int(y.sum()))


if __name__ == "__main__":
    card_only() if "--card" in sys.argv[1:] else main()
