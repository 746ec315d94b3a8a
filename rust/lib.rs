//! glmmx's numerical core: mixed models fitted by penalised IRLS, the Laplace approximation
//! and adaptive Gauss–Hermite quadrature, with analytic gradients and group-parallel (rayon)
//! evaluation. Python bindings live in `py.rs` behind the `python` feature.

pub mod agq;
pub mod ai_newton;
pub mod average_information;
pub mod batch;
pub mod blocked;
pub mod blocked_factor;
pub mod cluster;
pub mod conditional;
pub mod error;
pub mod family;
pub mod fit;
pub mod ghq;
pub mod glm;
pub mod glmm;
pub mod glmm_refit;
pub mod glmm_shared;
pub mod glmm_sparse_fit;
pub mod laplace_gradient;
pub mod linalg;
pub mod lmm;
pub mod lmm_fit;
pub mod lmm_refit;
pub mod nagq0;
pub mod npml_data;
pub mod npml_fit;
pub mod npml_lik;
pub mod npml_model;
pub mod npml_normal;
pub mod npml_refit;
pub mod npml_ridge;
pub mod npml_se;
pub mod optim;
pub mod par;
pub mod pirls;
pub mod pirls_sparse;
pub mod polish;
pub mod re_products;
pub mod remat;
pub mod rng;
pub mod satterthwaite;
pub mod selected_inverse;
pub mod simulate;
#[cfg(test)]
mod testdata;

#[cfg(feature = "python")]
mod py;
