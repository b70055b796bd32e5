//! One error type for the whole core. Every error carries a stable machine `code` (part of the public
//! contract, see the README's "Errors and failure modes"), the offending `field` when there is one, and a message that tells the
//! caller what to do.

use std::fmt;

crate::named_enum! {
    /// Stable error codes. Their string forms are public API (JS `error.code`, CLI output).
    pub enum Code {
        InvalidItem = "invalid_item",
        InvalidPrice = "invalid_price",
        UnknownCurrency = "unknown_currency",
        InvalidEvent = "invalid_event",
        InvalidPolicy = "invalid_policy",
        InvalidModel = "invalid_model",
        InvalidState = "invalid_state",
        InvalidQuote = "invalid_quote",
        InvalidReport = "invalid_report",
        InvalidFeatures = "invalid_features",
        InvalidArgument = "invalid_argument",
        LimitExceeded = "limit_exceeded",
        UnknownItem = "unknown_item",
        Internal = "internal",
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    pub code: Code,
    /// Path of the offending field (`price`, `strategy.tiers[1].upTo`, ...) when one is to blame.
    pub field: Option<String>,
    pub message: String,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Error {
            code,
            field: None,
            message: message.into(),
        }
    }

    pub fn at(code: Code, field: impl Into<String>, message: impl Into<String>) -> Self {
        Error {
            code,
            field: Some(field.into()),
            message: message.into(),
        }
    }

    /// Re-anchor a field path under a parent (`price` -> `items[3].price`).
    pub fn under(mut self, parent: &str) -> Self {
        self.field = Some(match self.field.take() {
            Some(f) if f.starts_with('[') => format!("{parent}{f}"),
            Some(f) => format!("{parent}.{f}"),
            None => parent.to_string(),
        });
        self
    }

    pub fn with_code(mut self, code: Code) -> Self {
        self.code = code;
        self
    }

    pub fn limit(field: impl Into<String>, what: &str, limit: impl fmt::Display) -> Self {
        let field = field.into();
        Error::at(
            Code::LimitExceeded,
            field.clone(),
            format!("{what} exceeds the limit of {limit} (field `{field}`); send less or split the request"),
        )
    }
}

/// A string in double quotes with JSON escaping, for messages (never `{:?}`: size builds may strip Debug).
pub fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// Turns a serde error with a path (from `serde_path_to_error`) into an [`Error`] naming the field.
pub fn from_serde_path<E: fmt::Display>(
    code: Code,
    what: &str,
    err: serde_path_to_error::Error<E>,
) -> Error {
    let path = err.path().to_string();
    let inner = err.inner().to_string();
    // serde reports a missing field on the parent object; name the field itself.
    // serde reports a missing field at its parent object and an unknown one at itself.
    let missing = inner
        .strip_prefix("missing field `")
        .and_then(|s| s.split('`').next());
    let field = match missing {
        Some(name) if path == "." => name.to_string(),
        Some(name) => format!("{path}.{name}"),
        None if path == "." => String::new(),
        None => path,
    };
    let message = if field.is_empty() {
        format!("{what}: {inner}")
    } else {
        format!("{what}: `{field}`: {inner}")
    };
    Error {
        code,
        field: (!field.is_empty()).then_some(field),
        message,
    }
}
