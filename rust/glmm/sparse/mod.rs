//! GLMMs with several random-effects terms on the blocked sparse system: the model and its
//! factorisations (`model`), the penalised IRLS for the conditional modes (`pirls`), the
//! Laplace and nAGQ = 0 criteria (`evaluate`) with their exact gradient (`laplace_gradient`),
//! the fit (`fit`) and replicates (`refit`).
//!
//! May import what `glmm` may, and `glmm`'s shared pieces (`shared`, `fit::FitOptions`, `simulate`).

pub mod evaluate;
pub mod fit;
pub mod laplace_gradient;
pub mod model;
pub mod pirls;
pub mod refit;
