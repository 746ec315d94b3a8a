//! npmlt fits as [`Refit`]s, and responses simulated from a fitted npmlt model: each
//! cluster draws its random effect (a support point with probability πₗ, or b = Lu with
//! u ~ N(0, I)), then each row a category from its probabilities at that random effect.

use crate::batch::{ReplicateFit, Refit};
use crate::npml::data::{OrdLink, OrdinalData};
use crate::npml::fit::{NpmlOptions, fit_npml};
use crate::npml::lik::expit;
use crate::npml::model::{NpmlModel, NpmlParams};
use crate::npml::normal::{NormalModel, fit_normal};
use crate::npml::se::SeKind;
use rand::{Rng, RngExt};
use rand_distr::StandardNormal;

/// The random-effects distribution of a fitted model.
#[derive(Clone, Debug)]
pub enum Mixing {
    /// support points (K × d, point-major) and their masses
    Points { points: Vec<f64>, masses: Vec<f64> },
    /// lower Cholesky factor of Σ (column-major d × d)
    Normal { chol: Vec<f64> },
}

/// Category probabilities of one row at linear predictors η (length q), into `p` (q + 1).
fn category_probabilities(link: OrdLink, eta: &[f64], p: &mut [f64]) {
    let q = eta.len();
    match link {
        OrdLink::CLogit => {
            let mut below = 0.0;
            for c in 0..q {
                let gamma = expit(eta[c]).max(below);
                p[c] = gamma - below;
                below = gamma;
            }
            p[q] = 1.0 - below;
        }
        OrdLink::BLogit => {
            let top = eta.iter().fold(0.0f64, |m, &e| m.max(e));
            let mut total = (-top).exp();
            for c in 0..q {
                p[c] = (eta[c] - top).exp();
                total += p[c];
            }
            p[q] = (-top).exp();
            p.iter_mut().for_each(|v| *v /= total);
        }
    }
}

/// One simulated response (0-based categories, the data's row order) at (α, β, mixing).
pub fn simulate(data: &OrdinalData, alpha: &[f64], beta: &[f64], mixing: &Mixing, rng: &mut impl Rng, y: &mut [u32]) {
    let (q, d) = (data.q, data.d);
    let eta_fixed = data.eta_fixed(alpha, beta);
    let mut b = vec![0.0; d];
    let mut eta = vec![0.0; q];
    let mut p = vec![0.0; q + 1];
    for i in 0..data.n_clusters() {
        draw_effect(mixing, d, rng, &mut b);
        for row in data.starts[i]..data.starts[i + 1] {
            let zb: f64 = data.z[row * d..(row + 1) * d].iter().zip(&b).map(|(z, b)| z * b).sum();
            eta.iter_mut().zip(&eta_fixed[row * q..(row + 1) * q]).for_each(|(e, f)| *e = f + zb);
            category_probabilities(data.link, &eta, &mut p);
            y[row] = draw_category(&p, rng);
        }
    }
}

fn draw_effect(mixing: &Mixing, d: usize, rng: &mut impl Rng, b: &mut [f64]) {
    match mixing {
        Mixing::Points { points, masses } => {
            let l = draw_category(masses, rng) as usize;
            b.copy_from_slice(&points[l * d..(l + 1) * d]);
        }
        Mixing::Normal { chol } => {
            let u: Vec<f64> = (0..d).map(|_| rng.sample(StandardNormal)).collect();
            for (r, br) in b.iter_mut().enumerate() {
                *br = (0..=r).map(|k| chol[r + k * d] * u[k]).sum();
            }
        }
    }
}

/// Index drawn from probabilities `p` (summing to one up to rounding).
fn draw_category(p: &[f64], rng: &mut impl Rng) -> u32 {
    let u: f64 = rng.random::<f64>() * p.iter().sum::<f64>();
    let mut acc = 0.0;
    for (c, &pc) in p.iter().enumerate() {
        acc += pc.max(0.0);
        if u < acc {
            return c as u32;
        }
    }
    (p.len() - 1) as u32
}

/// A fitted npmlt model, refitted from its own estimates (mass points) or from the fixed
/// fit (normal, whose quadrature adapts from scratch).
#[derive(Clone)]
pub enum NpmlRefit {
    Points { model: NpmlModel, opts: NpmlOptions },
    Normal { model: NormalModel, max_iter: usize, se: SeKind },
}

impl NpmlRefit {
    /// Replicates of a mass-point fit, each started at `start`.
    pub fn points(data: OrdinalData, start: NpmlParams, max_iter: usize, se: SeKind) -> Self {
        let k = start.masses.len();
        NpmlRefit::Points { model: NpmlModel::new(data, k), opts: NpmlOptions { max_iter, se, start: Some(start) } }
    }

    /// Replicates of a normal fit with `nagq` nodes per dimension.
    pub fn normal(data: OrdinalData, nagq: usize, max_iter: usize, se: SeKind) -> Self {
        NpmlRefit::Normal { model: NormalModel::new(data, nagq), max_iter, se }
    }

    fn data_mut(&mut self) -> &mut OrdinalData {
        match self {
            NpmlRefit::Points { model, .. } => &mut model.data,
            NpmlRefit::Normal { model, .. } => &mut model.data,
        }
    }

    fn data(&self) -> &OrdinalData {
        match self {
            NpmlRefit::Points { model, .. } => &model.data,
            NpmlRefit::Normal { model, .. } => &model.data,
        }
    }
}

impl Refit for NpmlRefit {
    fn n_rows(&self) -> usize {
        self.data().n
    }

    /// `y` holds categories 1..Q as numbers, in the data's row order.
    fn refit(&mut self, y: &[f64]) -> ReplicateFit {
        let (q, n_beta) = (self.data().q, self.data().n_beta());
        let n_par = match self {
            NpmlRefit::Points { model, .. } => model.k * (model.data.d + 1),
            NpmlRefit::Normal { model, .. } => model.data.d * model.data.d,
        };
        if let Some(bad) = y.iter().find(|&&v| v != v.round() || v < 1.0 || v > (q + 1) as f64) {
            return ReplicateFit::failed(q + n_beta, n_par, format!("response value {bad} is not a category 1..{}", q + 1));
        }
        self.data_mut().y.iter_mut().zip(y).for_each(|(t, &v)| *t = v as u32 - 1);
        let fitted = match self {
            NpmlRefit::Points { model, opts } => fit_npml(model, opts).map(|f| ReplicateFit {
                estimates: f.params.alpha.into_iter().chain(f.params.beta).collect(),
                std_errors: f.se.alpha.into_iter().chain(f.se.beta).collect(),
                parameters: f.params.points.iter().chain(&f.params.masses).copied().collect(),
                loglik: f.loglik,
                converged: f.converged,
                message: f.message,
            }),
            NpmlRefit::Normal { model, max_iter, se } => fit_normal(model, *max_iter, *se).map(|f| ReplicateFit {
                estimates: f.alpha.into_iter().chain(f.beta).collect(),
                std_errors: f.se_alpha.into_iter().chain(f.se_beta).collect(),
                parameters: f.chol,
                loglik: f.loglik,
                converged: f.converged,
                message: f.message,
            }),
        };
        ReplicateFit::from_result(fitted, q + n_beta, n_par)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probabilities_sum_to_one() {
        let mut p = vec![0.0; 4];
        for link in [OrdLink::CLogit, OrdLink::BLogit] {
            category_probabilities(link, &[-1.0, 0.5, 2.0], &mut p);
            assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-14 && p.iter().all(|&v| v >= 0.0));
        }
    }
}
