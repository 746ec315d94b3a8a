//! A fitted GLMM as a [`Refit`]: every replicate starts from the original estimates and
//! conditional modes, and returns β̂ with standard errors, θ̂ and the log-likelihood.

use crate::batch::{ReplicateFit, Refit, glmm_row};
use crate::glmm::fit::{FitOptions, fit};
use crate::glmm::model::GlmmModel;

/// The model and the state every replicate's fit starts from.
#[derive(Clone)]
pub struct GlmmRefit {
    model: GlmmModel,
    modes0: Vec<f64>,
    opts: FitOptions,
}

impl GlmmRefit {
    /// Replicates of `model` started at (θ₀, β₀) and the conditional modes `modes0` (the
    /// model's own when None).
    pub fn new(model: &GlmmModel, modes0: Option<Vec<f64>>, theta0: Vec<f64>, beta0: Vec<f64>, n_agq: usize, max_iter: usize) -> Self {
        let mut model = model.clone();
        // one replicate per worker thread: no second level of parallelism inside a fit
        model.allow_parallel = false;
        let modes0 = modes0.unwrap_or_else(|| model.modes.clone());
        GlmmRefit { model, modes0, opts: FitOptions { n_agq, max_iter, theta0: Some(theta0), beta0: Some(beta0) } }
    }
}

impl Refit for GlmmRefit {
    fn n_rows(&self) -> usize {
        self.model.data.n
    }

    fn refit(&mut self, y: &[f64]) -> ReplicateFit {
        let (nt, p) = (self.model.n_theta(), self.model.p());
        if let Err(e) = self.model.set_response(y) {
            return ReplicateFit::failed(p, nt, e.to_string());
        }
        self.model.modes.copy_from_slice(&self.modes0);
        let fitted = fit(&mut self.model, &self.opts).map(|f| glmm_row(f.beta, f.theta, f.deviance, &f.vcov_beta, f.report.converged, f.report.message));
        ReplicateFit::from_result(fitted, p, nt)
    }
}
