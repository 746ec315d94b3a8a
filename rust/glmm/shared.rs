//! What the two GLMM fit drivers share (one grouping factor, `glmm::fit`; several,
//! `glmm::sparse::fit`): the tolerances, the starting Hessian of the quasi-Newton search,
//! and the covariance of β̂ from the Hessian of the deviance.

use crate::error::Result;
use crate::numerics::optim::{OptimOptions, fd_hessian_columns};
use crate::numerics::polish::{PolishOptions, ROUNDING};
use faer::{Mat, Side};
use faer::prelude::Solve;

/// Newton decrement (deviance units) below which a fit counts as converged: the deviance
/// could fall by at most about this much more.
pub const DECREMENT_TOL: f64 = 1e-6;
/// Projected gradient accepted as converged when the Hessian is not positive definite.
pub const GRAD_TOL_SINGULAR: f64 = 1e-5;

/// The quasi-Newton search stops at this projected gradient, or when its model predicts a
/// deviance decrease below 1e-8; Newton polishing with the finite-difference Hessian (needed
/// anyway for the standard errors) takes it the rest of the way.
pub fn bfgs_options(max_iter: usize) -> OptimOptions {
    OptimOptions { gtol: 1e-3, dtol: 1e-8, noise: ROUNDING, max_iter }
}

/// Newton polishing: at most 6 steps, until the predicted decrease is below 1e-12.
pub fn polish_options(max_iter: usize) -> PolishOptions {
    PolishOptions { steps: 6, dtol: 1e-12, max_iter }
}

/// A starting Hessian for the quasi-Newton search over (θ, β): the β block is 2·S, twice the
/// Fisher information of β at the conditional modes (the deviance's curvature in β, up to the
/// log-determinant's), the θ rows and columns forward differences of the analytic gradient
/// (`g0` at `x0`). None unless positive definite.
pub fn initial_hessian(fg: &mut dyn FnMut(&[f64]) -> Result<(f64, Vec<f64>)>, x0: &[f64], g0: &[f64], nt: usize, fisher: &Mat<f64>) -> Result<Option<Mat<f64>>> {
    let np = x0.len();
    let theta_cols = fd_hessian_columns(fg, x0, Some(g0), 0..nt, 1e-5)?;
    let h = Mat::from_fn(np, np, |i, j| match (i < nt, j < nt) {
        (false, false) => 2.0 * fisher[(i - nt, j - nt)],
        (_, true) => theta_cols[(i, j)],
        (true, false) => theta_cols[(j, i)],
    });
    Ok(h.llt(Side::Lower).is_ok().then_some(h))
}

/// β-block of (H/2)⁻¹, lme4's covariance of β̂ for nAGQ ≥ 1; None unless H is positive
/// definite.
pub fn hessian_vcov(h: &Mat<f64>, nt: usize) -> Option<Mat<f64>> {
    let np = h.nrows();
    let inv = h.llt(Side::Lower).ok()?.solve(Mat::<f64>::identity(np, np));
    let p = np - nt;
    let v = Mat::from_fn(p, p, |i, j| inv[(nt + i, nt + j)] + inv[(nt + j, nt + i)]);
    (0..p).all(|i| v[(i, i)] > 0.0 && v[(i, i)].is_finite()).then_some(v)
}
