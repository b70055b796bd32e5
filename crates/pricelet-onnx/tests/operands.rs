//! A model whose MatMul or Gemm takes `features` in place of the operand it was written for is a
//! bad model: loading it answers `invalid_model`, never a panic (a trap, in wasm).

use pricelet::error::Code;
use pricelet::scorer::ModelKind;
use pricelet_onnx::{pb, Model};
use prost::Message;

fn model(name: &str) -> pb::ModelProto {
    let bytes = std::fs::read(format!(
        "{}/../../models/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    pb::ModelProto::decode(bytes.as_slice()).unwrap()
}

/// Every way to put `features` into a MatMul's or Gemm's operand, loaded.
fn rewired(
    name: &str,
    kind: ModelKind,
) -> Vec<(String, std::thread::Result<pricelet::Result<Model>>)> {
    let original = model(name);
    let graph = original.graph.as_ref().unwrap();
    let mut out = Vec::new();
    for (n, node) in graph.node.iter().enumerate() {
        if !matches!(node.op_type.as_str(), "MatMul" | "Gemm") {
            continue;
        }
        for input in 0..node.input.len().min(2) {
            if node.input[input] == "features" {
                continue;
            }
            let mut edited = original.clone();
            edited.graph.as_mut().unwrap().node[n].input[input] = "features".into();
            let bytes = edited.encode_to_vec();
            let what = format!("{name} node {n} ({}) input {input}", node.op_type);
            out.push((what, std::panic::catch_unwind(|| Model::load(&bytes, kind))));
        }
    }
    out
}

#[test]
fn features_in_the_wrong_operand_are_refused_not_a_panic() {
    let mut cases = rewired("interest-gemm.onnx", ModelKind::Interest);
    cases.extend(rewired("uplift.onnx", ModelKind::Uplift));
    cases.extend(rewired("interest.onnx", ModelKind::Interest));
    let mut refused = 0;
    for (what, result) in cases {
        match result {
            Err(_) => panic!("{what}: loading panicked"),
            Ok(Ok(_)) => {} // shapes that still fit are a valid (if odd) model
            Ok(Err(e)) => {
                assert_eq!(e.code, Code::InvalidModel, "{what}: {e:?}");
                eprintln!("{what}: {}", e.message);
                refused += 1;
            }
        }
    }
    // Four of them made tract panic while loading before MatMul checked its summed axis.
    assert!(refused >= 4, "{refused} rewired models refused");
}
