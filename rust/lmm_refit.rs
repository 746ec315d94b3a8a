//! lmer fits and GLMMs with several random-effects terms as [`Refit`]s, and responses
//! simulated from them: new random effects b = Λu per level of every term (times σ for the
//! linear model), then the response (y = Xβ + Zb + ε with ε ~ N(0, σ²/w) for lmer, the
//! family's draw for a GLMM). Each replicate's fit rebuilds the model from the shared design
//! and starts at the original estimates.

use crate::batch::{ReplicateFit, Refit, glmm_row, std_errors};
use crate::blocked::ReTermData;
use crate::error::{Error, Result};
use crate::family::{Family, Link};
use crate::fit::FitOptions;
use crate::glmm_sparse_fit::fit as fit_sparse;
use crate::lmm::LmmModel;
use crate::lmm_fit::{LmmFitOptions, fit as fit_lmm};
use crate::pirls_sparse::SparseGlmm;
use crate::re_products::lambda_of;
use crate::simulate::draw;
use rand::{Rng, RngExt};
use rand_distr::StandardNormal;

/// The design every replicate shares: fixed-effects matrix (column-major n × p) and terms.
#[derive(Clone)]
pub struct SharedDesign {
    pub x: Vec<f64>,
    pub p: usize,
    pub terms: Vec<ReTermData>,
}

impl SharedDesign {
    /// The design from row-major fixed-effects rows (n × p), as the models hold them.
    pub fn from_rows(x_rows: &[f64], p: usize, terms: Vec<ReTermData>) -> Self {
        let n = terms.first().map_or(if p == 0 { 0 } else { x_rows.len() / p }, |t| t.codes.len());
        let x = (0..p).flat_map(|j| (0..n).map(move |i| x_rows[i * p + j])).collect();
        SharedDesign { x, p, terms }
    }

    /// Number of rows.
    pub fn n(&self) -> usize {
        self.terms.first().map_or(self.x.len() / self.p.max(1), |t| t.codes.len())
    }

    /// Xβ + Σₜ Zₜ bₜ with new spherical draws scaled by `scale`·Λₜ(θ) (θ in lme4's order: each
    /// term's lower triangle column by column).
    fn linear_predictor(&self, theta: &[f64], beta: &[f64], scale: f64, rng: &mut impl Rng) -> Vec<f64> {
        let n = self.n();
        let mut eta: Vec<f64> = (0..n).map(|i| (0..self.p).map(|j| self.x[i + j * n] * beta[j]).sum()).collect();
        let lambda = lambda_of(self.terms.iter().map(|t| t.d), theta);
        for (t, lam) in self.terms.iter().zip(&lambda) {
            let d = t.d;
            let mut b = vec![0.0; t.n_levels * d];
            let mut u = vec![0.0; d];
            for level in 0..t.n_levels {
                u.iter_mut().for_each(|v| *v = rng.sample(StandardNormal));
                for r in 0..d {
                    b[level * d + r] = scale * (0..=r).map(|c| lam[r + c * d] * u[c]).sum::<f64>();
                }
            }
            for i in 0..n {
                let level = t.codes[i] as usize;
                eta[i] += (0..d).map(|r| t.z[i * d + r] * b[level * d + r]).sum::<f64>();
            }
        }
        eta
    }
}

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
                converged: f.converged,
                message: f.message,
            });
        ReplicateFit::from_result(fitted, p, nt + 1)
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
            .map(|f| glmm_row(f.beta, f.theta, f.deviance, &f.vcov_beta, f.converged, f.message));
        ReplicateFit::from_result(fitted, p, nt)
    }
}
