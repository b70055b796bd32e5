//! Why a command failed. Each variant displays as the message printed on stderr (exit code 2);
//! the messages are the tool's interface, so tests hold them.

use pricelet::scorer::ModelKind;
use pricelet_lab::datasets::DatasetError;
use pricelet_lab::plan::PopulationError;
use std::path::PathBuf;

pub type CliResult<T> = Result<T, CliError>;

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The core refused an input: a policy, an item, a model, the pricer's arguments.
    #[error("{}", with_code(.0))]
    Core(#[from] pricelet::Error),
    #[error(transparent)]
    Dataset(#[from] DatasetError),
    #[error(transparent)]
    Population(#[from] PopulationError),
    #[error("cannot read the {what} file {}: {source}", path.display())]
    Read {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the {what} file {} is not UTF-8", path.display())]
    NotUtf8 {
        what: &'static str,
        path: PathBuf,
        source: std::string::FromUtf8Error,
    },
    #[error("the {what} file {} is not valid JSON: {source}", path.display())]
    Json {
        what: &'static str,
        path: PathBuf,
        source: serde_json::Error,
    },
    /// Valid JSON of the wrong shape (`expected` says what the file must hold).
    #[error("the {what} file must hold {expected}")]
    FileShape {
        what: &'static str,
        expected: &'static str,
    },
    /// The collector refused the reports file; its message names the line.
    #[error("{}: {source}", path.display())]
    Reports {
        path: PathBuf,
        source: pricelet::Error,
    },
    #[error("behaviour event {index}: {}", with_code(.source))]
    BehaviourEvent {
        index: usize,
        source: pricelet::Error,
    },
    /// An option's value that the core refused once applied.
    #[error("{option}: {}", with_code(.source))]
    OptionRefused {
        option: &'static str,
        source: pricelet::Error,
    },
    /// An option outside its range (`expected` completes "must be").
    #[error("{option} must be {expected}")]
    BadArgument {
        option: &'static str,
        expected: &'static str,
    },
    /// A comma-separated option that is empty or has a value outside its range.
    #[error("{option}: give one or more {expected}")]
    BadList {
        option: &'static str,
        expected: &'static str,
    },
    #[error("--mechanisms: unknown mechanism {0:?} (oue or grr)")]
    UnknownMechanisms(String),
    #[error("--mechanism {0:?}: use oue or grr")]
    UnknownMechanism(String),
    #[error("--outcome must be visit or conversion, not {0:?}")]
    UnknownOutcome(String),
    #[error("the policy holds out no control group (experiment.controlPercent 0): pass --control-percent")]
    NoControlGroup,
    #[error(
        "{option} must be an {} model; the file is an {} model",
        expected.as_str(),
        found.as_str()
    )]
    WrongModelKind {
        option: &'static str,
        expected: ModelKind,
        found: ModelKind,
    },
    /// `simulate` on a layout whose model option was not given (`needs` names it).
    #[error("simulate on {layout} needs {needs}")]
    SimulateNeeds {
        layout: &'static str,
        needs: &'static str,
    },
    #[error("{}: an uplift model needs a randomized test (the Hillstrom layout); Online Shoppers has no treatment", data.display())]
    UpliftWithoutTreatment { data: PathBuf },
    #[error("{}: needs rows of both Womens E-Mail and No E-Mail", data.display())]
    MissingArm { data: PathBuf },
    #[error("{}: {command} needs the Online Shoppers layout (sessions)", data.display())]
    NotSessions {
        command: &'static str,
        data: PathBuf,
    },
    #[error("{}: online_shoppers_intention.csv and hillstrom.csv must have their own layouts", dir.display())]
    MixedUpLayouts { dir: PathBuf },
}

/// A core error as the CLI shows it: the message, then its stable code and field.
fn with_code(e: &pricelet::Error) -> String {
    match &e.field {
        Some(f) => format!("{} (code {}, field {f})", e.message, e.code),
        None => format!("{} (code {})", e.message, e.code),
    }
}
