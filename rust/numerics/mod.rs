//! Numerical building blocks that know nothing of mixed models: small dense linear algebra,
//! allocations of sizes a caller chose, the quasi-Newton optimiser and its finite-difference
//! Hessians, Newton polishing, the average-information Newton iteration, Gauss–Hermite rules,
//! random-number streams, the fixed-order parallel map that keeps results bit-identical for
//! any thread count, the governor that runs a parallel section on one thread when that is
//! faster here and now, and the cancel token that lets long work stop on request.
//!
//! May import: `error`.

pub mod ai_newton;
pub mod alloc;
pub mod cancel;
pub mod ghq;
pub mod governor;
pub mod linalg;
pub mod optim;
pub mod par;
pub mod polish;
pub mod rng;
