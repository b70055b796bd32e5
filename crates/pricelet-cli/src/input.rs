//! Reading what the commands are given: files, policies, models, the datasets' folder.

use crate::error::{CliError, CliResult};
use pricelet::scorer::ModelKind;
use pricelet::Policy;
use pricelet_onnx::Model;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// `what` names the file in messages ("the policy file ...").
pub fn read(path: &Path, what: &'static str) -> CliResult<Vec<u8>> {
    std::fs::read(path).map_err(|source| CliError::Read {
        what,
        path: path.to_path_buf(),
        source,
    })
}

pub fn read_text(path: &Path, what: &'static str) -> CliResult<String> {
    String::from_utf8(read(path, what)?).map_err(|source| CliError::NotUtf8 {
        what,
        path: path.to_path_buf(),
        source,
    })
}

pub fn read_json(path: &Path, what: &'static str) -> CliResult<Value> {
    let bytes = read(path, what)?;
    serde_json::from_slice(&bytes).map_err(|source| CliError::Json {
        what,
        path: path.to_path_buf(),
        source,
    })
}

pub fn load_policy(path: Option<&Path>) -> CliResult<Policy> {
    match path {
        None => Ok(Policy::default_policy()),
        Some(p) => Ok(Policy::from_json_str(&read_text(p, "policy")?)?),
    }
}

/// Loads a model of either kind: the kind is read from the file's `pricelet.kind`.
pub fn load_any_model(path: &Path, what: &'static str) -> CliResult<Model> {
    let bytes = read(path, what)?;
    let kind = pricelet_onnx::declared_kind(&bytes);
    Ok(Model::load(&bytes, kind.unwrap_or(ModelKind::Interest))?)
}

/// `option` is the flag the model came from (`--model`), for the message.
pub fn expect_kind(model: &Model, expected: ModelKind, option: &'static str) -> CliResult<()> {
    let found = model.info().kind;
    if found != expected {
        return Err(CliError::WrongModelKind {
            option,
            expected,
            found,
        });
    }
    Ok(())
}

pub fn data_dir(given: Option<PathBuf>) -> PathBuf {
    given
        .or_else(|| std::env::var_os("PRICELET_DATA").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("../shared/data"))
}
