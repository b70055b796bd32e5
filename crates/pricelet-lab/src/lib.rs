//! pricelet's lab: the models and the policy judged on the real datasets, through the same core the
//! device runs. One typed CSV reader per dataset ([`datasets`]), model evaluation ([`evaluate`]),
//! offline policy simulation ([`simulate`]), the fairness report ([`fairness`]), local-DP study
//! planning ([`plan`]), the learning loop end to end ([`learn`]), and the seeded random generator they share ([`rng`]).

pub mod datasets;
pub mod evaluate;
pub mod fairness;
pub mod learn;
pub mod plan;
pub mod rng;
pub mod simulate;
