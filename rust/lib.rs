//! glmmx's numerical core: mixed models fitted by penalised IRLS, the Laplace approximation
//! and adaptive Gauss–Hermite quadrature, with analytic gradients and group-parallel (rayon)
//! evaluation. Python bindings live in `py.rs` behind the `python` feature.

pub mod agq;
pub mod ai_newton;
pub mod average_information;
pub mod blocked;
pub mod blocked_factor;
pub mod cluster;
pub mod conditional;
pub mod error;
pub mod fit;
pub mod family;
pub mod ghq;
pub mod glm;
pub mod glmm;
pub mod glmm_sparse_fit;
pub mod laplace_gradient;
pub mod linalg;
pub mod lmm;
pub mod lmm_fit;
pub mod nagq0;
pub mod optim;
pub mod par;
pub mod pirls;
pub mod pirls_sparse;
pub mod polish;
pub mod remat;
pub mod satterthwaite;
pub mod selected_inverse;
#[cfg(test)]
mod testdata;

#[cfg(feature = "python")]
mod py;
