use super::{Forest, TreeError};
use crate::proto::{attribute_proto::AttributeType, AttributeProto, NodeProto};

fn ints(name: &str, v: &[i64]) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::Ints as i32,
        ints: v.to_vec(),
        ..Default::default()
    }
}
fn floats(name: &str, v: &[f32]) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::Floats as i32,
        floats: v.to_vec(),
        ..Default::default()
    }
}
fn strings(name: &str, v: &[&str]) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::Strings as i32,
        strings: v.iter().map(|s| s.as_bytes().to_vec()).collect(),
        ..Default::default()
    }
}
fn text(name: &str, v: &str) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::String as i32,
        s: v.as_bytes().to_vec(),
        ..Default::default()
    }
}
fn int(name: &str, v: i64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::Int as i32,
        i: v,
        ..Default::default()
    }
}

/// Tree 0: node 0 tests x1 ≤ 0.5 → leaf 1 (1.0), else node 2 tests x0 < 2 → leaf 3 (10), leaf 4 (20);
/// NaN at node 0 goes to the yes side. Tree 1: a single leaf (0.25). Base 0.5.
fn attributes() -> Vec<AttributeProto> {
    vec![
        int("n_targets", 1),
        text("aggregate_function", "SUM"),
        text("post_transform", "NONE"),
        floats("base_values", &[0.5]),
        ints("nodes_treeids", &[0, 0, 0, 0, 0, 1]),
        ints("nodes_nodeids", &[0, 1, 2, 3, 4, 0]),
        ints("nodes_featureids", &[1, 0, 0, 0, 0, 0]),
        strings(
            "nodes_modes",
            &["BRANCH_LEQ", "LEAF", "BRANCH_LT", "LEAF", "LEAF", "LEAF"],
        ),
        floats("nodes_values", &[0.5, 0.0, 2.0, 0.0, 0.0, 0.0]),
        ints("nodes_truenodeids", &[1, 0, 3, 0, 0, 0]),
        ints("nodes_falsenodeids", &[2, 0, 4, 0, 0, 0]),
        ints("nodes_missing_value_tracks_true", &[1, 0, 0, 0, 0, 0]),
        ints("target_treeids", &[0, 0, 0, 1]),
        ints("target_nodeids", &[1, 3, 4, 0]),
        ints("target_ids", &[0, 0, 0, 0]),
        floats("target_weights", &[1.0, 10.0, 20.0, 0.25]),
    ]
}

fn node(attribute: Vec<AttributeProto>) -> NodeProto {
    NodeProto {
        name: "trees".into(),
        op_type: "TreeEnsembleRegressor".into(),
        domain: "ai.onnx.ml".into(),
        input: vec!["features".into()],
        output: vec!["z".into()],
        attribute,
        ..Default::default()
    }
}

fn with(change: impl FnOnce(&mut Vec<AttributeProto>)) -> Result<Forest, TreeError> {
    let mut a = attributes();
    change(&mut a);
    Forest::parse(&node(a))
}

fn set(a: &mut [AttributeProto], new: AttributeProto) {
    let slot = a.iter_mut().find(|x| x.name == new.name).unwrap();
    *slot = new;
}

#[test]
fn walks_each_tree_from_its_root_and_sums_the_leaves() {
    let forest = Forest::parse(&node(attributes())).unwrap();
    assert_eq!(forest.width_needed(), 2);
    // base 0.5 + tree 1's 0.25, plus tree 0's leaf
    assert_eq!(forest.predict_row(&[0.0, 0.5]), 1.75); // x1 ≤ 0.5 (equal) → 1.0
    assert_eq!(forest.predict_row(&[1.9, 0.6]), 10.75); // x0 < 2 → 10
    assert_eq!(forest.predict_row(&[2.0, 0.6]), 20.75); // x0 = 2 is not < 2 → 20
    assert_eq!(forest.predict_row(&[2.0, f32::NAN]), 1.75); // missing tracks true
    assert_eq!(forest.predict_row(&[f32::NAN, 1.0]), 20.75); // NaN < 2 is false, no missing flag
}

#[test]
fn each_branch_mode_compares_as_the_onnx_spec_says() {
    for (mode, below, equal, above) in [
        ("BRANCH_LEQ", true, true, false),
        ("BRANCH_LT", true, false, false),
        ("BRANCH_GTE", false, true, true),
        ("BRANCH_GT", false, false, true),
        ("BRANCH_EQ", false, true, false),
        ("BRANCH_NEQ", true, false, true),
    ] {
        let forest = with(|a| {
            set(
                a,
                strings(
                    "nodes_modes",
                    &[mode, "LEAF", "BRANCH_LT", "LEAF", "LEAF", "LEAF"],
                ),
            )
        })
        .unwrap();
        let yes = |x1: f32| forest.predict_row(&[5.0, x1]) == 1.75;
        assert_eq!(
            [yes(0.4), yes(0.5), yes(0.6)],
            [below, equal, above],
            "{mode}"
        );
    }
}

#[test]
fn refuses_what_is_not_a_forest_with_a_reason() {
    type Change = Box<dyn FnOnce(&mut Vec<AttributeProto>)>;
    let cases: Vec<(&str, Change)> = vec![
        (
            "does not have",
            Box::new(|a| set(a, ints("nodes_falsenodeids", &[7, 0, 4, 0, 0, 0]))),
        ),
        (
            "reached twice",
            Box::new(|a| set(a, ints("nodes_falsenodeids", &[0, 0, 4, 0, 0, 0]))),
        ),
        (
            "reached twice",
            Box::new(|a| set(a, ints("nodes_falsenodeids", &[2, 0, 3, 0, 0, 0]))),
        ),
        (
            "cannot be reached",
            Box::new(|a| {
                set(
                    a,
                    strings(
                        "nodes_modes",
                        &["BRANCH_LEQ", "LEAF", "LEAF", "LEAF", "LEAF", "LEAF"],
                    ),
                )
            }),
        ),
        (
            "not listed together",
            Box::new(|a| set(a, ints("nodes_treeids", &[0, 0, 1, 0, 0, 1]))),
        ),
        (
            "node id 1 twice",
            Box::new(|a| set(a, ints("nodes_nodeids", &[0, 1, 1, 3, 4, 0]))),
        ),
        (
            "not a LEAF",
            Box::new(|a| set(a, ints("target_nodeids", &[0, 3, 4, 0]))),
        ),
        (
            "which does not exist",
            Box::new(|a| set(a, ints("target_treeids", &[0, 0, 0, 2]))),
        ),
        (
            "target id 1",
            Box::new(|a| set(a, ints("target_ids", &[0, 1, 0, 0]))),
        ),
        (
            "weight inf",
            Box::new(|a| {
                set(
                    a,
                    floats("target_weights", &[1.0, f32::INFINITY, 20.0, 0.25]),
                )
            }),
        ),
        (
            "threshold NaN",
            Box::new(|a| {
                set(
                    a,
                    floats("nodes_values", &[f32::NAN, 0.0, 2.0, 0.0, 0.0, 0.0]),
                )
            }),
        ),
        (
            "tests feature -1",
            Box::new(|a| set(a, ints("nodes_featureids", &[-1, 0, 0, 0, 0, 0]))),
        ),
        (
            "has mode \"BRANCH_XX\"",
            Box::new(|a| {
                set(
                    a,
                    strings(
                        "nodes_modes",
                        &["BRANCH_XX", "LEAF", "BRANCH_LT", "LEAF", "LEAF", "LEAF"],
                    ),
                )
            }),
        ),
        (
            "nodes_values has 5 entries",
            Box::new(|a| set(a, floats("nodes_values", &[0.5, 0.0, 2.0, 0.0, 0.0]))),
        ),
        ("n_targets is 2", Box::new(|a| set(a, int("n_targets", 2)))),
        (
            "n_targets is missing",
            Box::new(|a| a.retain(|x| x.name != "n_targets")),
        ),
        (
            "aggregate_function \"MAX\"",
            Box::new(|a| set(a, text("aggregate_function", "MAX"))),
        ),
        (
            "post_transform \"LOGISTIC\"",
            Box::new(|a| set(a, text("post_transform", "LOGISTIC"))),
        ),
        (
            "base_values must be one finite",
            Box::new(|a| set(a, floats("base_values", &[0.5, 0.5]))),
        ),
        (
            "must be of type INTS",
            Box::new(|a| set(a, floats("nodes_treeids", &[0.0; 6]))),
        ),
        (
            "does not read; write the float list",
            Box::new(|a| a.push(floats("nodes_values_as_tensor", &[]))),
        ),
        ("twice", Box::new(|a| a.push(int("n_targets", 1)))),
        (
            "has no nodes",
            Box::new(|a| {
                for name in [
                    "nodes_treeids",
                    "nodes_nodeids",
                    "nodes_featureids",
                    "nodes_truenodeids",
                    "nodes_falsenodeids",
                    "nodes_missing_value_tracks_true",
                ] {
                    set(a, ints(name, &[]));
                }
            }),
        ),
    ];
    for (expected, change) in cases {
        let err = with(change).expect_err(expected).to_string();
        assert!(err.contains(expected), "expected {expected:?} in: {err}");
        assert!(err.starts_with("TreeEnsembleRegressor \"trees\""), "{err}");
    }
}

#[test]
fn names_the_node_before_each_reason() {
    fn refusal(change: impl FnOnce(&mut Vec<AttributeProto>)) -> String {
        with(change).expect_err("refused").to_string()
    }
    assert_eq!(
        refusal(|a| a.push(int("n_targets", 1))),
        r#"TreeEnsembleRegressor "trees" has attribute "n_targets" twice"#
    );
    assert_eq!(
        refusal(|a| a.push(floats("nodes_values_as_tensor", &[]))),
        r#"TreeEnsembleRegressor "trees" has attribute "nodes_values_as_tensor", which pricelet does not read; write the float list attribute instead (e.g. nodes_values)"#
    );
    assert_eq!(
        refusal(|a| set(a, ints("target_ids", &[0, 1, 0, 0]))),
        r#"TreeEnsembleRegressor "trees": target 1 has target id 1; with one target every id is 0"#
    );
    assert_eq!(
        refusal(|a| set(a, floats("nodes_treeids", &[0.0; 6]))),
        r#"TreeEnsembleRegressor "trees": attribute "nodes_treeids" must be of type INTS"#
    );
}

#[test]
fn any_numbering_of_trees_and_nodes_walks_the_same_forest() {
    // Tree 0 becomes tree 7 with node k numbered 100 - k; tree 1 becomes tree 3.
    let forest = with(|a| {
        set(a, ints("nodes_treeids", &[7, 7, 7, 7, 7, 3]));
        set(a, ints("nodes_nodeids", &[100, 99, 98, 97, 96, 0]));
        set(a, ints("nodes_truenodeids", &[99, 0, 97, 0, 0, 0]));
        set(a, ints("nodes_falsenodeids", &[98, 0, 96, 0, 0, 0]));
        set(a, ints("target_treeids", &[7, 7, 7, 3]));
        set(a, ints("target_nodeids", &[99, 97, 96, 0]));
    })
    .unwrap();
    assert_eq!(forest.predict_row(&[0.0, 0.5]), 1.75);
    assert_eq!(forest.predict_row(&[1.9, 0.6]), 10.75);
    assert_eq!(forest.predict_row(&[2.0, 0.6]), 20.75);
}

#[test]
fn sums_several_weights_on_one_leaf() {
    let forest = with(|a| {
        set(a, ints("target_treeids", &[0, 0, 0, 1, 1]));
        set(a, ints("target_nodeids", &[1, 3, 4, 0, 0]));
        set(a, ints("target_ids", &[0; 5]));
        set(a, floats("target_weights", &[1.0, 10.0, 20.0, 0.25, 0.25]));
    })
    .unwrap();
    assert_eq!(forest.predict_row(&[0.0, 0.0]), 2.0);
}
