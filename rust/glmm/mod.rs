//! Generalised linear mixed models (lme4's `glmer`), in two engines that each earn their place:
//!
//! * one grouping factor (`model`, `agq`, `pirls`, `nagq0`, `conditional`, `fit`): data by
//!   cluster, a d × d system per cluster solved in parallel, and the only engine with adaptive
//!   Gauss–Hermite quadrature (nAGQ > 1), also for vector random effects, which needs the
//!   per-cluster integrals;
//! * several grouping factors, crossed or nested (`sparse/`): the penalised IRLS on the blocked
//!   sparse system of `terms`, Laplace and nAGQ = 0 only (quadrature does not factor over
//!   crossed terms).
//!
//! Both share the tolerances, the starting Hessian and the covariance of β̂ (`shared`), the
//! fixed-effects start (`family::glm`) and responses simulated from the family (`simulate`).
//!
//! May import: `error`, `numerics`, `terms`, `family`, `batch`.

pub mod agq;
pub mod conditional;
pub mod fit;
pub mod model;
pub mod nagq0;
pub mod pirls;
pub mod refit;
pub mod shared;
pub mod simulate;
pub mod sparse;
