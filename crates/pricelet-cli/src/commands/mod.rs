//! One module per subcommand.

pub mod aggregate;
pub mod evaluate;
pub mod fairness;
pub mod ldp_simulate;
pub mod loop_simulate;
pub mod price;
pub mod simulate;
pub mod verify;
