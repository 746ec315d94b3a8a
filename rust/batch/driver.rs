//! Many fits of one model to new responses (simulation studies, parametric bootstrap).
//!
//! The design is shared read-only; every worker thread of the current rayon pool makes one
//! copy of the model (which owns only a response and its conditional modes) and pulls
//! replicate numbers from a shared counter until none are left. Replicate k's response comes
//! from `fill(k, …)` and its fit starts from the same state whichever thread runs it, so the
//! results are identical for any number of threads. A failed fit is a result with
//! `converged = false` and its message, never an error that loses the other replicates.

use crate::error::{Error, Result};
use faer::Mat;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// What one replicate's fit yields.
#[derive(Clone, Debug, Default)]
pub struct ReplicateFit {
    /// estimates reported with standard errors (fixed effects)
    pub estimates: Vec<f64>,
    pub std_errors: Vec<f64>,
    /// other parameters (covariance parameters, mass points, ...)
    pub parameters: Vec<f64>,
    pub loglik: f64,
    pub converged: bool,
    pub message: String,
}

impl ReplicateFit {
    /// The row of a replicate whose fit failed before producing estimates.
    pub fn failed(n_est: usize, n_par: usize, message: String) -> Self {
        ReplicateFit {
            estimates: vec![f64::NAN; n_est],
            std_errors: vec![f64::NAN; n_est],
            parameters: vec![f64::NAN; n_par],
            loglik: f64::NAN,
            converged: false,
            message,
        }
    }

    /// The row of a replicate from its fit: as it is, without the message when it converged
    /// (a table of many carries only failures'), or the failed row with the error.
    pub fn from_result(fitted: Result<ReplicateFit>, n_est: usize, n_par: usize) -> Self {
        match fitted {
            Ok(f) if f.converged => ReplicateFit { message: String::new(), ..f },
            Ok(f) => f,
            Err(e) => ReplicateFit::failed(n_est, n_par, e.to_string()),
        }
    }
}

/// The row of a GLMM replicate (one or several grouping factors): β̂ with its standard errors,
/// θ̂, and ℓ = −deviance / 2.
pub fn glmm_row(beta: Vec<f64>, theta: Vec<f64>, deviance: f64, vcov_beta: &Mat<f64>, converged: bool, message: String) -> ReplicateFit {
    ReplicateFit { std_errors: std_errors(vcov_beta), estimates: beta, parameters: theta, loglik: -0.5 * deviance, converged, message }
}

/// Standard errors of β̂: the square roots of the diagonal of its covariance matrix.
pub fn std_errors(vcov_beta: &Mat<f64>) -> Vec<f64> {
    (0..vcov_beta.nrows()).map(|i| vcov_beta[(i, i)].sqrt()).collect()
}

/// A model that can be refitted to a new response with its design unchanged.
pub trait Refit: Clone + Send + Sync {
    /// Number of rows of a response.
    fn n_rows(&self) -> usize;
    /// Fit to `y` (original row order) from the model's starting state.
    fn refit(&mut self, y: &[f64]) -> ReplicateFit;
}

/// Fit `model` to `n_rep` responses, replicate k's filled in by `fill(k, y)`; `progress`
/// counts finished replicates. `OutOfMemory` when the replicates' slots cannot be had.
pub fn run<M: Refit>(model: &M, n_rep: usize, fill: &(dyn Fn(usize, &mut [f64]) -> Result<()> + Sync), progress: &AtomicUsize) -> Result<Vec<ReplicateFit>> {
    let next = AtomicUsize::new(0);
    let mut slots: Vec<Mutex<Option<ReplicateFit>>> = Vec::new();
    slots.try_reserve_exact(n_rep).map_err(|_| Error::OutOfMemory {
        what: format!("the results of {n_rep} replicates"),
        bytes: n_rep as u128 * std::mem::size_of::<Mutex<Option<ReplicateFit>>>() as u128,
    })?;
    slots.extend((0..n_rep).map(|_| Mutex::new(None)));
    let cancel = crate::numerics::cancel::current();
    let work = || {
        let mut m = model.clone();
        let mut y = vec![0.0; m.n_rows()];
        loop {
            let k = next.fetch_add(1, Ordering::Relaxed);
            if k >= n_rep || cancel.requested() {
                break;
            }
            let out = match fill(k, &mut y) {
                Ok(()) => m.refit(&y),
                Err(e) => ReplicateFit::failed(0, 0, e.to_string()),
            };
            *slots[k].lock().unwrap_or_else(|p| p.into_inner()) = Some(out);
            progress.fetch_add(1, Ordering::Relaxed);
        }
    };
    if crate::numerics::par::threads() > 1 && n_rep > 1 {
        rayon::broadcast(|_| work());
    } else {
        work();
    }
    Ok(slots.into_iter().map(|s| s.into_inner().unwrap_or_else(|p| p.into_inner()).unwrap_or_default()).collect())
}
