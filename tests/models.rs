//! The shipped models through tract: parity with onnxruntime, the model contract on load, and the
//! Rust feature path against train.py's featurizer.

use pricelet::behaviour::{BehaviourLog, Event};
use pricelet::features::{self, Registry, Summaries};
use pricelet::policy::Retention;
use pricelet::scorer::ModelKind;
use pricelet::time::Clock;
use pricelet::Code;
use pricelet_onnx::Model;
use prost::Message;
use serde_json::Value;
use std::path::Path;

fn repo(path: &str) -> std::path::PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join(path)
}

fn json(path: &str) -> Value {
    serde_json::from_slice(&std::fs::read(repo(path)).unwrap()).unwrap()
}

fn shipped_models() -> Vec<(String, ModelKind)> {
    let mut out = vec![];
    for entry in std::fs::read_dir(repo("models")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if let Some(stem) = name.strip_suffix(".parity.json") {
            let kind = if stem.starts_with("uplift") {
                ModelKind::Uplift
            } else {
                ModelKind::Interest
            };
            out.push((stem.to_string(), kind));
        }
    }
    assert!(!out.is_empty());
    out
}

/// Every shipped model, and the fixture that uses the allowed operators they do not (Gemm, Relu,
/// Min: an MLP with isotonic calibration, written by models/train.py).
#[test]
fn tract_matches_onnxruntime_on_every_shipped_model() {
    let models = shipped_models()
        .into_iter()
        .map(|(stem, kind)| ("models".to_string(), stem, kind))
        .chain([(
            "tests/fixtures/models".to_string(),
            "interest-mlp-isotonic".to_string(),
            ModelKind::Interest,
        )]);
    for (dir, stem, kind) in models {
        let parity = json(&format!("{dir}/{stem}.parity.json"));
        let bytes = std::fs::read(repo(&format!(
            "{dir}/{}",
            parity["model"].as_str().unwrap()
        )))
        .unwrap();
        let mut model = Model::load(&bytes, kind).unwrap();
        let names: Vec<String> = serde_json::from_value(parity["featureNames"].clone()).unwrap();
        assert_eq!(model.info().features, names, "{stem}: metadata features");
        let inputs: Vec<Vec<f64>> = serde_json::from_value(parity["inputs"].clone()).unwrap();
        let expected: Vec<f64> = serde_json::from_value(parity["outputs"].clone()).unwrap();
        let got = model.predict(&inputs).unwrap();
        assert_eq!(got.len(), expected.len());
        let worst = got
            .iter()
            .zip(&expected)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(worst <= 1e-5, "{stem}: max |tract - onnxruntime| = {worst}");
        // Row by row agrees with batched (the plan is reused across calls and batch sizes). Not
        // bit for bit: tract may pick another matrix kernel for one row than for many, and
        // kernels sum f32 products in different orders.
        for (i, row) in inputs.iter().enumerate().step_by(37) {
            let one = model.predict(std::slice::from_ref(row)).unwrap()[0];
            assert!(
                (one - got[i]).abs() <= 1e-6,
                "{stem}: row {i}: {one} vs {}",
                got[i]
            );
        }
    }
}

/// The interest model in its tensor-maths ("GEMM") form: it has a node of most allowed operators,
/// which the contract tests below edit one at a time.
fn proto() -> pricelet_onnx::pb::ModelProto {
    decode("models/interest-gemm.onnx")
}

fn decode(path: &str) -> pricelet_onnx::pb::ModelProto {
    pricelet_onnx::pb::ModelProto::decode(&*std::fs::read(repo(path)).unwrap()).unwrap()
}

fn load(p: &pricelet_onnx::pb::ModelProto, kind: ModelKind) -> pricelet::Result<Model> {
    Model::load(&p.encode_to_vec(), kind)
}

fn set_meta(p: &mut pricelet_onnx::pb::ModelProto, key: &str, value: Option<&str>) {
    p.metadata_props.retain(|e| e.key != key);
    if let Some(v) = value {
        p.metadata_props
            .push(pricelet_onnx::pb::StringStringEntryProto {
                key: key.into(),
                value: v.into(),
            });
    }
}

#[test]
fn loading_enforces_the_model_contract() {
    let expect = |r: pricelet::Result<Model>, code: Code, needle: &str| {
        let e = r.unwrap_err();
        assert_eq!(e.code, code, "{e}");
        assert!(e.message.contains(needle), "{needle:?} not in {e}");
    };
    assert!(load(&proto(), ModelKind::Interest).is_ok());
    expect(
        Model::load(b"", ModelKind::Interest),
        Code::InvalidModel,
        "empty",
    );
    expect(
        Model::load(b"this is not onnx at all", ModelKind::Interest),
        Code::InvalidModel,
        "not an ONNX model",
    );
    expect(
        Model::load(
            &vec![0u8; pricelet::limits::MAX_MODEL_BYTES + 1],
            ModelKind::Interest,
        ),
        Code::LimitExceeded,
        "limit",
    );
    expect(
        load(&proto(), ModelKind::Uplift),
        Code::InvalidModel,
        "pass it as `model`",
    );

    let mut p = proto();
    set_meta(&mut p, "pricelet.kind", None);
    expect(
        load(&p, ModelKind::Interest),
        Code::InvalidModel,
        "pricelet.kind",
    );
    let mut p = proto();
    set_meta(
        &mut p,
        "pricelet.features",
        Some("admin_pages,not_a_feature"),
    );
    expect(
        load(&p, ModelKind::Interest),
        Code::InvalidModel,
        "not_a_feature",
    );
    let mut p = proto();
    set_meta(
        &mut p,
        "pricelet.features",
        Some("admin_pages,admin_seconds"),
    );
    expect(
        load(&p, ModelKind::Interest),
        Code::InvalidModel,
        "expected [N, 2]",
    );
    let mut p = proto();
    let many: Vec<&str> =
        std::iter::repeat_n("admin_pages", pricelet::limits::MAX_MODEL_FEATURES + 1).collect();
    set_meta(&mut p, "pricelet.features", Some(&many.join(",")));
    expect(
        load(&p, ModelKind::Interest),
        Code::LimitExceeded,
        "features",
    );
    let mut p = proto();
    set_meta(&mut p, "pricelet.model_version", None);
    expect(
        load(&p, ModelKind::Interest),
        Code::InvalidModel,
        "model_version",
    );
    let mut p = proto();
    p.graph.as_mut().unwrap().input[0].name = "raw_features".into();
    for n in &mut p.graph.as_mut().unwrap().node {
        for i in &mut n.input {
            if i == "features" {
                *i = "raw_features".into();
            }
        }
    }
    expect(
        load(&p, ModelKind::Interest),
        Code::InvalidModel,
        "named `features`",
    );
    let mut p = proto();
    p.graph.as_mut().unwrap().output[0].name = "score".into();
    p.graph.as_mut().unwrap().node.last_mut().unwrap().output[0] = "score".into();
    expect(
        load(&p, ModelKind::Interest),
        Code::InvalidModel,
        "no output named `interest`",
    );
    // A graph that runs but produces values outside [0, 1] fails the trial inference: the final Clip
    // becomes `p + (1 - 1e-6)`, above 1 for every p the sigmoid gives.
    let mut p = proto();
    let g = p.graph.as_mut().unwrap();
    let clip = g.node.iter_mut().find(|n| n.op_type == "Clip").unwrap();
    clip.op_type = "Add".into();
    clip.input = vec![clip.input[0].clone(), "hi".into()];
    expect(
        load(&p, ModelKind::Interest),
        Code::InvalidModel,
        "trial inference",
    );
    // Inputs on which tract 0.23.9 panics (a trap in wasm), found by fuzzing: refused first.
    let mut p = proto();
    let g = p.graph.as_mut().unwrap();
    g.initializer[0].data_type = 8; // STRING, with the float bytes still in raw_data
    expect(
        load(&p, ModelKind::Interest),
        Code::InvalidModel,
        "has ONNX data type 8",
    );
    let mut p = proto();
    let g = p.graph.as_mut().unwrap();
    g.initializer[0].dims[0] = 1 << 33; // on wasm32, tract's `as usize` would make this 0
    expect(
        load(&p, ModelKind::Interest),
        Code::InvalidModel,
        &format!("has dimension {}", 1i64 << 33),
    );
    let mut p = proto();
    let g = p.graph.as_mut().unwrap();
    let taken = g.initializer[0].name.clone();
    g.node[0].output[0] = taken;
    expect(
        load(&p, ModelKind::Interest),
        Code::InvalidModel,
        "which the graph already has",
    );
    let mut p = proto();
    p.graph.as_mut().unwrap().output[0].name = "nobody_makes_this".into();
    expect(
        load(&p, ModelKind::Interest),
        Code::InvalidModel,
        "not produced by any node",
    );
    // tract's Gather reads its indices without bounds checks, so pricelet checks them first; and only
    // operators pricelet has fuzzed run at all (some others panic on bad indices).
    // The interest model with its first `op` node changed, then loaded.
    let load_with_node = |op: &str, change: &dyn Fn(&mut pricelet_onnx::pb::NodeProto)| {
        let mut p = proto();
        let g = p.graph.as_mut().unwrap();
        change(g.node.iter_mut().find(|n| n.op_type == op).unwrap());
        load(&p, ModelKind::Interest)
    };
    let width = proto()
        .metadata_props
        .iter()
        .find(|e| e.key == "pricelet.features")
        .map_or(0, |e| e.value.split(',').count() as i64);
    for (index, needle) in [
        (width, format!("index {width}, outside the {width} entries")),
        (-width - 1, format!("index {}, outside", -width - 1)),
    ] {
        let mut p = proto();
        let g = p.graph.as_mut().unwrap();
        let gather = g.node.iter().find(|n| n.op_type == "Gather").unwrap();
        let name = gather.input[1].clone();
        let feat = g.initializer.iter_mut().find(|t| t.name == name).unwrap();
        let volume = feat.dims.iter().product::<i64>() as usize;
        feat.raw_data.clear();
        feat.int64_data = vec![0; volume];
        feat.int64_data[volume / 2] = index;
        expect(load(&p, ModelKind::Interest), Code::InvalidModel, &needle);
    }
    expect(
        load_with_node("Gather", &|n| n.input[1] = "features".into()),
        Code::InvalidModel,
        "indices from a constant int32 or int64 tensor",
    );
    expect(
        load_with_node("Gather", &|n| {
            n.attribute.iter_mut().find(|a| a.name == "axis").unwrap().i = 0
        }),
        Code::InvalidModel,
        "batch axis of `features`",
    );
    expect(
        load_with_node("Gather", &|n| n.op_type = "GatherND".into()),
        Code::InvalidModel,
        "uses operator \"GatherND\", which pricelet does not run",
    );
    // tract reads `inputs[0]` of some operators before it checks there is one (the fourth fuzz
    // crash: a Flatten with no input), so each operator must have the inputs the ONNX spec gives it.
    expect(
        load_with_node("Sigmoid", &|n| n.input.clear()),
        Code::InvalidModel,
        "(Sigmoid) has 0 inputs and 1 outputs; Sigmoid takes 1 named inputs",
    );
    expect(
        load_with_node("Gather", &|n| n.input[0] = String::new()),
        Code::InvalidModel,
        "Gather takes 2 named inputs",
    );
    expect(
        load_with_node("Sigmoid", &|n| n.output[0] = String::new()),
        Code::InvalidModel,
        "has one named output",
    );
    expect(
        load_with_node("Sigmoid", &|n| n.op_type = "Flatten".into()),
        Code::InvalidModel,
        "uses operator \"Flatten\"",
    );
}

/// Every shipped model: the kind its stem says, within the package budget, in range on extreme inputs.
/// The shipped interest model is one native `ai.onnx.ml` TreeEnsembleRegressor; the same trees as
/// tensor maths give the same scores, and a forest that is not one is refused with its reason.
#[test]
fn the_native_tree_ensemble_matches_its_tensor_form_and_refuses_bad_forests() {
    let native = decode("models/interest.onnx");
    let g = native.graph.as_ref().unwrap();
    assert!(g
        .node
        .iter()
        .any(|n| n.domain == "ai.onnx.ml" && n.op_type == "TreeEnsembleRegressor"));
    let parity = json("models/interest.parity.json");
    let inputs: Vec<Vec<f64>> = serde_json::from_value(parity["inputs"].clone()).unwrap();
    let a = load(&native, ModelKind::Interest)
        .unwrap()
        .predict(&inputs)
        .unwrap();
    let b = load(&proto(), ModelKind::Interest)
        .unwrap()
        .predict(&inputs)
        .unwrap();
    let worst = a
        .iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max);
    assert!(worst <= 1e-5, "native vs tensor form: {worst}");

    let width = native
        .metadata_props
        .iter()
        .find(|e| e.key == "pricelet.features")
        .map_or(0, |e| e.value.split(',').count() as i64);
    let refused = |change: &dyn Fn(&mut pricelet_onnx::pb::NodeProto), needle: &str| {
        let mut p = native.clone();
        let g = p.graph.as_mut().unwrap();
        change(
            g.node
                .iter_mut()
                .find(|n| n.op_type == "TreeEnsembleRegressor")
                .unwrap(),
        );
        let e = load(&p, ModelKind::Interest).unwrap_err();
        assert_eq!(e.code, Code::InvalidModel, "{e}");
        assert!(e.message.contains(needle), "{needle:?} not in {e}");
    };
    let attr = |n: &mut pricelet_onnx::pb::NodeProto, name: &str| -> usize {
        n.attribute.iter().position(|a| a.name == name).unwrap()
    };
    refused(
        &|n| {
            let i = attr(n, "nodes_featureids");
            let j = n.attribute[i].ints.iter().position(|&f| f > 0).unwrap();
            n.attribute[i].ints[j] = width;
        },
        &format!("tests feature {width}, but the model has {width} pricelet.features"),
    );
    refused(
        &|n| {
            let i = attr(n, "nodes_truenodeids");
            n.attribute[i].ints[0] = 0; // the first root's yes branch back to itself
        },
        "reached twice from the root",
    );
    refused(
        &|n| {
            let i = attr(n, "post_transform");
            n.attribute[i].s = b"LOGISTIC".to_vec();
        },
        "post_transform \"LOGISTIC\" is not supported",
    );
    refused(
        &|n| n.domain = String::new(),
        "uses operator \"TreeEnsembleRegressor\", which pricelet does not run",
    );
    refused(
        &|n| n.input.push("features".into()),
        "TreeEnsembleRegressor takes 1 named inputs",
    );
}

#[test]
fn shipped_models_fit_the_budget_and_stay_in_range() {
    let names: Vec<String> = shipped_models().into_iter().map(|(s, _)| s).collect();
    for stem in [
        "interest",
        "interest-behaviour",
        "uplift",
        "hillstrom-response",
    ] {
        assert!(
            names.iter().any(|n| n == stem),
            "models/{stem}.parity.json is missing"
        );
    }
    for (stem, kind) in shipped_models() {
        let bytes = std::fs::read(repo(&format!("models/{stem}.onnx"))).unwrap();
        assert!(
            bytes.len() <= 300 * 1024,
            "{stem}.onnx is {} bytes",
            bytes.len()
        );
        let mut m = Model::load(&bytes, kind).unwrap();
        let w = m.info().features.len();
        let rows: Vec<Vec<f64>> = [0.0, 1.0, -1.0, 1e6, -1e6]
            .iter()
            .map(|&v| vec![v; w])
            .collect();
        let (lo, hi) = if kind == ModelKind::Uplift {
            (-1.0, 1.0)
        } else {
            (0.0, 1.0)
        };
        for v in m.predict(&rows).unwrap() {
            assert!((lo..=hi).contains(&v), "{stem}: {v}");
        }
        // The other kind is refused with a hint.
        let other = if kind == ModelKind::Uplift {
            ModelKind::Interest
        } else {
            ModelKind::Uplift
        };
        assert!(
            Model::load(&bytes, other)
                .unwrap_err()
                .message
                .contains("pass it as"),
            "{stem}"
        );
    }
    let beh = Model::load(
        &std::fs::read(repo("models/interest-behaviour.onnx")).unwrap(),
        ModelKind::Interest,
    )
    .unwrap();
    assert!(
        !beh.info().features.iter().any(|f| f == "page_value_avg"),
        "behaviour only"
    );
    assert_eq!(beh.info().features.len(), 21);
}

/// The uplift model is P(visit | offer) − P(visit | no offer) of an S-learner: both arms' probabilities are
/// logistic in the history features, so the uplift of identical rows is identical and it varies with history.
#[test]
fn the_uplift_model_ranks_customers_by_history() {
    let mut m = Model::load(
        &std::fs::read(repo("models/uplift.onnx")).unwrap(),
        ModelKind::Uplift,
    )
    .unwrap();
    assert_eq!(
        m.info().features,
        [
            "recency_months",
            "spend_12m",
            "bought_mens",
            "bought_womens",
            "new_customer"
        ]
    );
    let history = |recency: f64, spend: f64, mens: f64, womens: f64, new: f64| {
        vec![recency, (1.0f64 + spend).ln(), mens, womens, new]
    };
    let rows = vec![
        history(1.0, 500.0, 0.0, 1.0, 0.0),
        history(12.0, 30.0, 1.0, 0.0, 1.0),
        history(1.0, 500.0, 0.0, 1.0, 0.0),
    ];
    let u = m.predict(&rows).unwrap();
    assert_eq!(u[0], u[2]);
    assert_ne!(u[0], u[1]);
}

#[test]
fn predict_validates_rows() {
    let mut m = Model::load(
        &std::fs::read(repo("models/interest.onnx")).unwrap(),
        ModelKind::Interest,
    )
    .unwrap();
    let w = m.info().features.len();
    assert_eq!(
        m.predict(&[vec![0.0; w - 1]]).unwrap_err().code,
        Code::InvalidFeatures
    );
    let mut nan = vec![0.0; w];
    nan[3] = f64::NAN;
    assert_eq!(
        m.predict(&[nan]).unwrap_err().field.as_deref(),
        Some("features[0][3]")
    );
    assert!(m.predict(&[]).unwrap().is_empty());
}

/// train.py's featurizer and the Rust extractor give the same vectors for the same event logs.
#[test]
fn feature_vectors_match_train_py() {
    let cases = json("models/feature_vectors.json");
    let registry = Registry::builtin();
    let all: Vec<&features::FeatureSpec> = registry.all().iter().collect();
    let keep = Retention {
        behaviour_days: 3650,
        purchase_days: 3650,
    };
    let cases = cases["cases"].as_array().unwrap();
    assert!(cases.len() >= 30);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let now = case["now"].as_i64().unwrap();
        let clock = Clock {
            now_ms: now,
            utc_offset_minutes: case["utcOffsetMinutes"].as_i64().unwrap() as i32,
        };
        let mut log = BehaviourLog::default();
        for ev in case["events"].as_array().unwrap() {
            log.push(Event::from_json(ev, now).unwrap(), now, keep);
        }
        let item_id = case["item"]["id"].as_str().unwrap();
        let category = case["item"]["category"].as_str();
        let s = Summaries {
            session: features::session_summary(log.events(), &clock),
            history: features::history_summary(log.events(), &clock),
            item: Some(features::item_summary(
                log.events(),
                &clock,
                item_id,
                category,
            )),
        };
        let got = features::to_model_input(&features::vector(&all, &s));
        for (spec, value) in all.iter().zip(got) {
            let expected = case["features"][&spec.name].as_f64().unwrap() as f32;
            let tol = 1e-6 * expected.abs().max(1.0);
            assert!(
                (value - expected).abs() <= tol,
                "{name}: {} rust {value} python {expected}",
                spec.name
            );
        }
    }
}

/// The README's "Your own model" list is the list `Model::load` enforces.
#[test]
fn readme_lists_the_allowed_operators() {
    let readme = std::fs::read_to_string(repo("README.md")).unwrap();
    let listed = readme
        .split("only these ONNX operators: ")
        .nth(1)
        .and_then(|rest| rest.split(" (no control flow)").next())
        .expect("README.md lists the allowed operators under \"Your own model\"");
    let listed: Vec<&str> = listed.split(',').map(str::trim).collect();
    let enforced: Vec<&str> = pricelet_onnx::ALLOWED_OPERATORS
        .iter()
        .map(|(name, ..)| *name)
        .collect();
    assert_eq!(listed, enforced);
}
