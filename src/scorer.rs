//! The model behind a quote, as the core sees it: a [`Scorer`] maps feature rows to one score per
//! row. The ONNX runner (crate `pricelet-onnx`) implements it; the core never sees tract. Also the
//! Subresource-Integrity check of model files, and the model slot a pricer holds.

use crate::error::quoted;
use crate::error::{Code, Error, Result};
use base64::Engine as _;
use serde::Serialize;
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    Interest,
    Uplift,
}

impl ModelKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ModelKind::Interest => "interest",
            ModelKind::Uplift => "uplift",
        }
    }
    /// The `createPricer` option that takes this kind of model.
    pub fn option_name(self) -> &'static str {
        match self {
            ModelKind::Interest => "model",
            ModelKind::Uplift => "upliftModel",
        }
    }
}

/// What a loaded model says about itself (`pricer.status`, `explain()`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelInfo {
    pub kind: ModelKind,
    pub version: String,
    pub trained_on: String,
    pub features: Vec<String>,
    pub bytes: usize,
    /// Subresource-integrity form of the file's hash (`sha256-<base64>`).
    pub integrity: String,
}

/// A loaded model. `score` takes rows of the model's own feature list (`info().features`, each
/// value finite) and gives one score per row: a probability for `interest`, −1..1 for `uplift`.
pub trait Scorer: std::fmt::Debug {
    fn info(&self) -> &ModelInfo;
    fn score(&mut self, rows: &[Vec<f64>]) -> Result<Vec<f64>>;
}

/// Rows a scorer may take: the model's width, finite values. Every scorer checks with this.
pub fn check_rows(info: &ModelInfo, rows: &[Vec<f64>]) -> Result<()> {
    let width = info.features.len();
    for (i, r) in rows.iter().enumerate() {
        if r.len() != width {
            return Err(Error::at(
                Code::InvalidFeatures,
                format!("features[{i}]"),
                format!("row has {} values, the model takes {width}", r.len()),
            ));
        }
        if let Some(j) = r.iter().position(|x| !x.is_finite()) {
            return Err(Error::at(
                Code::InvalidFeatures,
                format!("features[{i}][{j}]"),
                "feature values must be finite numbers",
            ));
        }
    }
    Ok(())
}

/// A model slot: loaded, or unavailable with the reason (pricing then falls back to list price).
#[derive(Debug)]
pub enum ModelSlot {
    Ready(Box<dyn Scorer>),
    Unavailable(String),
    Absent,
}

impl ModelSlot {
    /// A slot from a loader's result: a model, or why there is none.
    pub fn from_result<S: Scorer + 'static>(loaded: Option<Result<S>>) -> ModelSlot {
        match loaded {
            None => ModelSlot::Absent,
            Some(Ok(m)) => ModelSlot::Ready(Box::new(m)),
            Some(Err(e)) => ModelSlot::Unavailable(e.message),
        }
    }

    pub fn ready(&mut self) -> Option<&mut (dyn Scorer + 'static)> {
        match self {
            ModelSlot::Ready(m) => Some(m.as_mut()),
            _ => None,
        }
    }

    pub fn info(&self) -> Option<&ModelInfo> {
        match self {
            ModelSlot::Ready(m) => Some(m.info()),
            _ => None,
        }
    }
}

/// `sha256-<base64>` of the bytes, as in Subresource Integrity.
pub fn integrity_of(bytes: &[u8]) -> String {
    format!(
        "sha256-{}",
        base64::engine::general_purpose::STANDARD.encode(Sha256::digest(bytes))
    )
}

/// Checks bytes against an SRI string (`sha256-...`); only sha256 is accepted.
pub fn check_integrity(bytes: &[u8], expected: &str, what: &str) -> Result<()> {
    if !expected.starts_with("sha256-") {
        return Err(Error::at(
            Code::InvalidArgument,
            "integrity",
            format!(
                "{what}: integrity must be \"sha256-<base64>\" (got {})",
                quoted(expected)
            ),
        ));
    }
    let actual = integrity_of(bytes);
    if actual != expected {
        return Err(Error::at(
            Code::InvalidModel,
            "integrity",
            format!("{what}: the file's hash {actual} does not match the expected {expected}; the file changed or the wrong one was served"),
        ));
    }
    Ok(())
}
