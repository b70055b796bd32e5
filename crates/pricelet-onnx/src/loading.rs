//! Loading a model in steps. On a phone a model load is a few hundred milliseconds of main-thread
//! work, most of it the browser compiling the engine's code the first time it runs; in one piece
//! it is one long task that blocks the page. [`Loading`] does the same work in steps — decode,
//! check, wire the graph, optimize it, plan and try it — so a page can yield between them.

use crate::contract::{check_before_tract, check_gathers, check_trees};
use crate::proto::{tensor_shape_proto::dimension, type_proto, ModelProto, ValueInfoProto};
use crate::{decode, default_opset, graph, invalid, Model};
use pricelet::error::{quoted, Error, Result};
use pricelet::features::Registry;
use pricelet::limits;
use pricelet::scorer::{integrity_of, ModelInfo, ModelKind};
use tract_core::internal::*;

/// A model part-way through loading; [`Loading::step`] advances it one stage.
pub struct Loading {
    kind: ModelKind,
    info: ModelInfo,
    stage: Stage,
}

enum Stage {
    /// The file, not yet read.
    Bytes(Vec<u8>),
    /// Decoded, not yet checked.
    Decoded(ModelProto),
    /// Decoded and checked against the contract.
    Checked { proto: ModelProto, opset: i64 },
    /// Wired as a typed model.
    Built(TypedModel),
    /// Ready to plan.
    Optimized(TypedModel),
    /// Planned, not yet tried.
    Planned(Box<Model>),
    /// Planned and tried.
    Done(Box<Model>),
    /// A step failed (its error was returned); nothing more can be done.
    Failed,
}

impl Loading {
    /// A load of `bytes` as a `kind` model: only the size is checked here; the steps do the rest.
    pub fn begin(bytes: &[u8], kind: ModelKind) -> Result<Loading> {
        if bytes.len() > limits::MAX_MODEL_BYTES {
            return Err(Error::limit(
                kind.option_name(),
                &format!("a {}-byte model", bytes.len()),
                format!("{} bytes", limits::MAX_MODEL_BYTES),
            ));
        }
        if bytes.is_empty() {
            return Err(invalid(kind, "the file is empty"));
        }
        Ok(Loading {
            kind,
            info: ModelInfo {
                kind,
                version: String::new(),
                trained_on: String::new(),
                features: Vec::new(),
                bytes: bytes.len(),
                integrity: integrity_of(bytes),
            },
            stage: Stage::Bytes(bytes.to_vec()),
        })
    }

    /// The model contract, the metadata and the input, checked on the decoded file.
    fn check(&mut self, proto: ModelProto) -> Result<Stage> {
        let kind = self.kind;
        let Some(graph) = &proto.graph else {
            return Err(invalid(kind, "the file has no graph"));
        };
        let tree_widths = check_before_tract(graph).map_err(|why| invalid(kind, why))?;
        let meta = |key: &str| -> Option<String> {
            proto
                .metadata_props
                .iter()
                .find(|e| e.key == key)
                .map(|e| e.value.clone())
        };
        let declared_kind = meta("pricelet.kind").ok_or_else(|| invalid(kind, "metadata_props has no pricelet.kind; export it with the pricelet metadata (see models/README.md)"))?;
        if declared_kind != kind.as_str() {
            let hint = if declared_kind == "uplift" {
                "pass it as `upliftModel`"
            } else {
                "pass it as `model`"
            };
            return Err(invalid(
                kind,
                format!("the file is a {} model; {hint}", quoted(&declared_kind)),
            ));
        }
        let names: Vec<String> = meta("pricelet.features")
            .ok_or_else(|| invalid(kind, "metadata_props has no pricelet.features"))?
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        if names.is_empty() {
            return Err(invalid(kind, "pricelet.features is empty"));
        }
        if names.len() > limits::MAX_MODEL_FEATURES {
            return Err(Error::limit(
                kind.option_name(),
                &format!("a model with {} features", names.len()),
                limits::MAX_MODEL_FEATURES,
            ));
        }
        Registry::builtin()
            .resolve(&names)
            .map_err(|e| invalid(kind, e.message))?;
        let version = meta("pricelet.model_version")
            .ok_or_else(|| invalid(kind, "metadata_props has no pricelet.model_version"))?;
        let trained_on = meta("pricelet.trained_on").unwrap_or_default();

        // The contract: one input `features` f32 [N, F] and an output named after the kind, [N, 1].
        let width = names.len();
        let inputs: Vec<&ValueInfoProto> = graph
            .input
            .iter()
            .filter(|i| !graph.initializer.iter().any(|t| t.name == i.name))
            .collect();
        let [input] = inputs.as_slice() else {
            return Err(invalid(
                kind,
                "it must have exactly one input, named `features`",
            ));
        };
        if input.name != "features" {
            return Err(invalid(
                kind,
                "it must have exactly one input, named `features`",
            ));
        }
        if let Some(dims) = declared_shape(input) {
            let fits = dims.len() == 2 && dims[1].is_none_or(|w| w == width as i64);
            if !fits {
                let shown: Vec<String> = dims
                    .iter()
                    .map(|d| d.map_or_else(|| "N".to_string(), |v| v.to_string()))
                    .collect();
                return Err(invalid(kind, format!("input `features` has shape [{}], expected [N, {width}] for its {width} pricelet.features", shown.join(", "))));
            }
        }
        check_gathers(graph, width).map_err(|why| invalid(kind, why))?;
        check_trees(graph, &tree_widths, width).map_err(|why| invalid(kind, why))?;
        let opset = default_opset(&proto);
        self.info.version = version;
        self.info.trained_on = trained_on;
        self.info.features = names;
        Ok(Stage::Checked { proto, opset })
    }

    /// Does the next step; `Ok(true)` once the model is ready ([`Loading::finish`] then returns it
    /// at once). After an error the loading is over.
    pub fn step(&mut self) -> Result<bool> {
        let kind = self.kind;
        let stage = std::mem::replace(&mut self.stage, Stage::Failed);
        self.stage = match stage {
            Stage::Bytes(bytes) => Stage::Decoded(decode(&bytes, kind)?),
            Stage::Decoded(proto) => self.check(proto)?,
            Stage::Checked { proto, opset } => {
                let graph = proto.graph.as_ref().expect("checked in begin");
                let width = self.info.features.len();
                Stage::Built(
                    graph::typed_model(graph, opset, width, kind.as_str())
                        .map_err(|why| invalid(kind, why))?,
                )
            }
            Stage::Built(model) => Stage::Optimized(
                model
                    .into_optimized()
                    .map_err(|e| invalid(kind, format!("tract cannot run it ({e:#})")))?,
            ),
            Stage::Optimized(model) => {
                let plan = model
                    .into_runnable()
                    .map_err(|e| invalid(kind, format!("tract cannot run it ({e:#})")))?;
                let state = plan.spawn().map_err(|e| invalid(kind, e))?;
                Stage::Planned(Box::new(Model {
                    info: self.info.clone(),
                    state,
                }))
            }
            Stage::Planned(mut loaded) => {
                // Trial inference: two rows of zeros must give two finite values in range.
                let width = self.info.features.len();
                loaded
                    .predict(&[vec![0.0; width], vec![0.0; width]])
                    .map_err(|e| invalid(kind, format!("trial inference failed: {}", e.message)))?;
                Stage::Done(loaded)
            }
            done @ Stage::Done(_) => done,
            Stage::Failed => {
                return Err(invalid(
                    kind,
                    "an earlier step of this load failed; load the model again",
                ))
            }
        };
        Ok(matches!(self.stage, Stage::Done(_)))
    }

    /// The loaded model, after the steps still to do.
    pub fn finish(mut self) -> Result<Model> {
        while !self.step()? {}
        match self.stage {
            Stage::Done(model) => Ok(*model),
            _ => unreachable!("step returned true"),
        }
    }
}

/// The dimensions a graph input declares (None for a symbolic one), if it declares a shape.
fn declared_shape(input: &ValueInfoProto) -> Option<Vec<Option<i64>>> {
    let Some(type_proto::Value::TensorType(t)) = input.r#type.as_ref()?.value.as_ref() else {
        return None;
    };
    let shape = t.shape.as_ref()?;
    Some(
        shape
            .dim
            .iter()
            .map(|d| match &d.value {
                Some(dimension::Value::DimValue(v)) => Some(*v),
                _ => None,
            })
            .collect(),
    )
}
