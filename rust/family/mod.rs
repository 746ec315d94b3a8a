//! Exponential families and links (`exponential`: the per-observation log-likelihood, its
//! derivatives in η, deviance residuals, and draws from the family), and the fixed-effects
//! GLM fitted by IRLS (`glm`: lme4's starting values for β).
//!
//! May import: `error`, `numerics`, `terms`.

pub mod exponential;
pub mod glm;

pub use exponential::{Family, Link, ObsTerms};
