//! lmer fits as [`Refit`]s, and responses simulated from them: new random effects b = σΛu
//! per level of every term, then y = Xβ + Zb + ε with ε ~ N(0, σ²/w). Each replicate's fit
//! rebuilds the model from the shared design and starts at the original estimates.

use crate::batch::{ReplicateFit, Refit, std_errors};
use crate::lmm::fit::{LmmFitOptions, fit as fit_lmm};
use crate::lmm::model::LmmModel;
use crate::terms::design::SharedDesign;
use rand::{Rng, RngExt};
use rand_distr::StandardNormal;

/// An lmer model's data: the shared design and the prior weights.
#[derive(Clone)]
pub struct LmmData {
    pub design: SharedDesign,
    pub w: Vec<f64>,
}

impl LmmData {
    /// One response (the core's scale: offset removed) at (θ, β, σ).
    pub fn simulate(&self, theta: &[f64], beta: &[f64], sigma: f64, rng: &mut impl Rng, y: &mut [f64]) {
        let eta = self.design.linear_predictor(theta, beta, sigma, rng);
        for (i, yi) in y.iter_mut().enumerate() {
            let e: f64 = rng.sample(StandardNormal);
            *yi = eta[i] + sigma * e / self.w[i].sqrt();
        }
    }
}

/// Replicates of an lmer fit.
#[derive(Clone)]
pub struct LmmRefit {
    pub data: LmmData,
    pub reml: bool,
    pub opts: LmmFitOptions,
}

impl Refit for LmmRefit {
    fn n_rows(&self) -> usize {
        self.data.design.n()
    }

    fn refit(&mut self, y: &[f64]) -> ReplicateFit {
        let d = &self.data.design;
        let (p, nt) = (d.p, self.opts.theta0.as_ref().map_or(0, |t| t.len()));
        let fitted = LmmModel::new(y, &self.data.w, &d.x, d.p, d.terms.clone(), self.reml)
            .and_then(|mut model| fit_lmm(&mut model, &self.opts))
            .map(|f| ReplicateFit {
                std_errors: std_errors(&f.vcov_beta),
                estimates: f.beta,
                parameters: f.theta.into_iter().chain([f.sigma]).collect(),
                loglik: -0.5 * f.objective,
                converged: f.report.converged,
                message: f.report.message,
            });
        ReplicateFit::from_result(fitted, p, nt + 1)
    }
}
