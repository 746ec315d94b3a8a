//! Many fits of one model to new responses (simulation studies, parametric bootstrap): the
//! [`Refit`] trait every model family implements, the row a replicate yields, and the driver
//! that runs replicates on the current rayon pool in an order-independent way.
//!
//! May import: `error`, `numerics`. The model families implement `Refit`; this folder knows
//! none of them.

mod driver;

pub use driver::{Refit, ReplicateFit, glmm_row, run, std_errors};
