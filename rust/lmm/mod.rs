//! Linear mixed models (lme4's `lmer`): the profiled (RE)ML deviance on the blocked sparse
//! system with its exact gradient (`model`), the fit by average-information Newton with a
//! quasi-Newton fallback (`fit`), Satterthwaite's degrees of freedom (`satterthwaite`), and
//! replicates for simulation and the bootstrap (`refit`).
//!
//! May import: `error`, `numerics`, `terms`, `family`, `batch`.

pub mod fit;
pub mod model;
pub mod refit;
pub mod satterthwaite;
