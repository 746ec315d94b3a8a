//! Random-effects terms and the systems they make: the relative covariance factor Λ(θ) of a
//! term (`remat`), data grouped by cluster for the one-factor models (`cluster`), and the
//! blocked sparse system of several terms (`blocked` structure, `blocked_factor` Cholesky,
//! `selected_inverse`, the dense part by panels in `dense_panels`, products with Z, Λ and X in `re_products`, the average-information
//! products shared by lmer and glmer's nAGQ = 0 in `average_information`), and the design a
//! batch of replicates shares (`design`).
//!
//! May import: `error`, `numerics`.

pub mod average_information;
pub mod blocked;
pub mod blocked_factor;
pub mod cluster;
pub mod dense_panels;
pub mod design;
pub mod re_products;
pub mod remat;
pub mod selected_inverse;
