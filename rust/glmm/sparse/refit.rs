//! GLMMs with several random-effects terms as [`Refit`]s, and responses simulated from them:
//! new random effects b = Λu per level of every term, then the family's draw at
//! μ = g⁻¹(Xβ + Zb + offset). Each replicate's fit rebuilds the model from the shared design
//! and starts at the original estimates.

use crate::batch::{ReplicateFit, Refit, glmm_row};
use crate::error::{Error, Result};
use crate::family::{Family, Link};
use crate::glmm::fit::FitOptions;
use crate::glmm::simulate::draw;
use crate::glmm::sparse::fit::fit as fit_sparse;
use crate::glmm::sparse::model::SparseGlmm;
use crate::terms::design::SharedDesign;
use rand::Rng;

/// The data of a GLMM with several random-effects terms: the shared design, the prior
/// weights (binomial: trials), the offset, family and link.
#[derive(Clone)]
pub struct GlmmData {
    pub design: SharedDesign,
    pub m: Vec<f64>,
    pub offset: Vec<f64>,
    pub family: Family,
    pub link: Link,
}

impl GlmmData {
    /// Binomial simulation needs whole numbers of trials.
    pub fn check_simulable(&self) -> Result<()> {
        if self.family == Family::Binomial && self.m.iter().any(|&v| v != v.round() || v < 0.0) {
            return Err(Error::bad_input("simulating a binomial response needs whole numbers of trials (weights)"));
        }
        Ok(())
    }

    /// One response (proportions for binomial trials) at (θ, β).
    pub fn simulate(&self, theta: &[f64], beta: &[f64], rng: &mut impl Rng, y: &mut [f64]) {
        let eta = self.design.linear_predictor(theta, beta, 1.0, rng);
        for (i, yi) in y.iter_mut().enumerate() {
            *yi = draw(self.family, self.family.mu(self.link, eta[i] + self.offset[i]), self.m[i], rng);
        }
    }
}

/// Replicates of a GLMM fitted on the sparse machinery (several grouping factors).
#[derive(Clone)]
pub struct SparseGlmmRefit {
    pub data: GlmmData,
    pub opts: FitOptions,
}

impl Refit for SparseGlmmRefit {
    fn n_rows(&self) -> usize {
        self.data.design.n()
    }

    fn refit(&mut self, y: &[f64]) -> ReplicateFit {
        let (data, d) = (&self.data, &self.data.design);
        let (p, nt) = (d.p, self.opts.theta0.as_ref().map_or(0, |t| t.len()));
        let fitted = SparseGlmm::new(y, &data.m, &data.offset, &d.x, d.p, d.terms.clone(), data.family, data.link)
            .and_then(|mut model| fit_sparse(&mut model, &self.opts))
            .map(|f| glmm_row(f.beta, f.theta, f.deviance, &f.vcov_beta, f.report.converged, f.report.message));
        ReplicateFit::from_result(fitted, p, nt)
    }
}
