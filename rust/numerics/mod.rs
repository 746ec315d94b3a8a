//! Numerical building blocks that know nothing of mixed models: small dense linear algebra,
//! the quasi-Newton optimiser and its finite-difference Hessians, Newton polishing, the
//! average-information Newton iteration, Gauss–Hermite rules, random-number streams and the
//! fixed-order parallel map that keeps results bit-identical for any thread count, and the
//! cancel token that lets long work stop on request.
//!
//! May import: `error`.

pub mod ai_newton;
pub mod cancel;
pub mod ghq;
pub mod linalg;
pub mod optim;
pub mod par;
pub mod polish;
pub mod rng;
