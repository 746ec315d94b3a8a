//! The design every replicate of a batch shares (simulation studies, the bootstrap): the
//! fixed-effects matrix and the random-effects terms, and the linear predictor with new
//! random effects b = Λu, u ~ N(0, I), drawn per level of every term.

use crate::terms::blocked::ReTermData;
use crate::terms::remat::lambda_of;
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
    pub fn linear_predictor(&self, theta: &[f64], beta: &[f64], scale: f64, rng: &mut impl Rng) -> Vec<f64> {
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
