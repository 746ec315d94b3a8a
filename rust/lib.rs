//! glmmx's numerical core: mixed models fitted by penalised IRLS, the Laplace approximation
//! and adaptive Gauss–Hermite quadrature, with analytic gradients and group-parallel (rayon)
//! evaluation. Python bindings live in `py/` behind the `python` feature.
//!
//! The folders stand one above the other; each may import only from those listed before it
//! (`tests::layering` checks this on the source):
//! `error` → `numerics` → `terms` → `family` → `batch` → `lmm`, `glmm`, `npml` → `py`.
//! The three model families do not import each other.

pub mod error;
pub mod numerics;
pub mod terms;
pub mod family;
pub mod batch;
pub mod lmm;
pub mod glmm;
pub mod npml;
#[cfg(test)]
mod testdata;
#[cfg(test)]
mod layering;

#[cfg(feature = "python")]
mod py;
