//! The GLMM with one grouping factor: data by cluster, family, link and the Λ template, and
//! its marginal deviance −2 log L(θ, β) by Laplace (`n_agq = 1`) or adaptive Gauss–Hermite
//! quadrature (`n_agq > 1`, product rule for vector random effects), with the exact gradient.
//!
//! The deviance includes every constant of the likelihood (binomial coefficients, log y!),
//! so −½·deviance is the log-likelihood R's `logLik` reports for a Laplace fit, and the same
//! quantity for every `n_agq` (lme4 drops the saturated log-likelihood for `nAGQ > 1`,
//! lme4 issue #161; glmmx does not).

use crate::error::{Error, Result};
use crate::family::{Family, Link};
use crate::glmm::agq::{Accum, GradOut, cluster_deviance};
use crate::glmm::pirls::Workspace;
use crate::numerics::ghq::ProductRule;
use crate::numerics::par::{PARALLEL_MIN_WORK, map_chunks};
use crate::terms::cluster::Clustered;
use crate::terms::remat::ReTemplate;

/// A GLMM ready to evaluate: the data never change; the conditional modes are kept between
/// evaluations as starting points.
#[derive(Clone)]
pub struct GlmmModel {
    pub data: Clustered,
    pub family: Family,
    pub link: Link,
    pub template: ReTemplate,
    /// Σ fᵢ Σⱼ (binomial coefficient or −log y!) terms of the log-likelihood
    pub loglik_constant: f64,
    /// conditional modes u, cluster-major (n_clusters × d)
    pub modes: Vec<f64>,
    /// whether one evaluation may spread over threads (off when fits themselves run in
    /// parallel, as in simulation studies)
    pub allow_parallel: bool,
    rule: Option<(usize, ProductRule)>,
}

/// Deviance and (optionally) its gradient with respect to (θ, β).
#[derive(Clone, Debug)]
pub struct Evaluation {
    pub deviance: f64,
    pub gradient: Vec<f64>,
}

impl GlmmModel {
    /// Check the response against the family and set up the model.
    pub fn new(data: Clustered, family: Family, link: Link, template: ReTemplate) -> Result<Self> {
        family.check_link(link)?;
        if template.d != data.d {
            return Err(Error::bad_input(format!("Z has {} columns but Lambda is {} x {}", data.d, template.d, template.d)));
        }
        check_response(&data, family)?;
        let loglik_constant = loglik_constant(&data, family);
        let modes = vec![0.0; data.n_clusters() * data.d];
        Ok(GlmmModel { data, family, link, template, loglik_constant, modes, allow_parallel: true, rule: None })
    }

    /// Replace the response (original row order), keeping the design.
    pub fn set_response(&mut self, y: &[f64]) -> Result<()> {
        self.data.set_response(y)?;
        check_response(&self.data, self.family)?;
        self.loglik_constant = loglik_constant(&self.data, self.family);
        Ok(())
    }

    /// Number of covariance parameters θ.
    pub fn n_theta(&self) -> usize {
        self.template.n_theta()
    }

    /// Number of fixed effects β.
    pub fn p(&self) -> usize {
        self.data.p
    }

    /// The product rule for `n_agq` nodes per dimension (1 node = Laplace).
    fn rule(&mut self, n_agq: usize) -> &ProductRule {
        let k = n_agq.max(1);
        if self.rule.as_ref().map(|r| r.0) != Some(k) {
            self.rule = Some((k, ProductRule::new(k, self.data.d)));
        }
        &self.rule.as_ref().unwrap().1
    }

    /// Whether an evaluation with `nodes` quadrature nodes per cluster is worth spreading
    /// over threads, where threads are allowed.
    pub fn heavy(&self, nodes: usize) -> bool {
        self.data.n * (nodes + 4) >= PARALLEL_MIN_WORK
    }

    /// Whether an evaluation is to be spread over threads.
    pub fn parallel(&self, nodes: usize) -> bool {
        self.allow_parallel && crate::numerics::par::threads() > 1 && self.heavy(nodes)
    }

    /// −2 log L(θ, β) and, when `want_grad`, its gradient in the order (θ, β).
    pub fn deviance(&mut self, theta: &[f64], beta: &[f64], n_agq: usize, want_grad: bool) -> Result<Evaluation> {
        let lambda = self.template.lambda(theta);
        self.rule(n_agq);
        let parallel = self.parallel(self.rule.as_ref().unwrap().1.len());
        let GlmmModel { data, family, link, modes, rule, .. } = self;
        let rule = &rule.as_ref().unwrap().1;
        let (fam, link, d, p) = (*family, *link, data.d, data.p);
        let n_max = data.max_cluster_size();
        let parts = map_chunks(
            data.n_clusters(),
            modes,
            d,
            parallel,
            || (Workspace::new(n_max, d), Accum::new(n_max, d)),
            |(ws, acc), range, u_chunk| {
                let mut dev = 0.0;
                let mut g_beta = vec![0.0; if want_grad { p } else { 0 }];
                let mut g_lambda = vec![0.0; if want_grad { d * d } else { 0 }];
                let first = range.start;
                for i in range {
                    let c = data.cluster(i);
                    ws.prepare(&c, beta, &lambda);
                    let u = &mut u_chunk[(i - first) * d..(i - first + 1) * d];
                    let out = want_grad.then(|| GradOut { beta: &mut g_beta, lambda: &mut g_lambda });
                    dev += c.freq * cluster_deviance(&c, i, fam, link, &lambda, rule, ws, acc, u, out)?;
                }
                Ok((dev, g_beta, g_lambda))
            },
        )?;
        let mut deviance = -2.0 * self.loglik_constant;
        let mut g_beta = vec![0.0; if want_grad { p } else { 0 }];
        let mut g_lambda = vec![0.0; if want_grad { d * d } else { 0 }];
        for (dev, gb, gl) in parts {
            deviance += dev;
            g_beta.iter_mut().zip(&gb).for_each(|(a, b)| *a += b);
            g_lambda.iter_mut().zip(&gl).for_each(|(a, b)| *a += b);
        }
        let mut gradient = Vec::new();
        if want_grad {
            gradient = self.template.gather(&g_lambda);
            gradient.extend_from_slice(&g_beta);
        }
        Ok(Evaluation { deviance, gradient })
    }
}

/// Every response value must be valid for the family (binomial: a proportion of m ≥ 0
/// trials; Poisson: y ≥ 0).
fn check_response(data: &Clustered, family: Family) -> Result<()> {
    match (0..data.n).find(|&k| !family.valid_response(data.y[k], data.m[k])) {
        None => Ok(()),
        Some(row) => Err(Error::bad_input(format!(
            "response value {} (prior weight {}) in row {} is not valid for the {} family",
            data.y[row],
            data.m[row],
            data.order[row],
            family.name()
        ))),
    }
}

/// Σ fᵢ Σⱼ of the log-likelihood terms free of μ (binomial coefficients, −log y!).
fn loglik_constant(data: &Clustered, family: Family) -> f64 {
    let rows_freq = data.row_freq();
    (0..data.n).map(|k| rows_freq[k] * family.loglik_constant(data.y[k], data.m[k])).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata::simulate;

    fn check_gradient(family: Family, link: Link, d: usize, n_agq: usize) {
        let data = simulate(family, link, 12, d, 7 + d as u64);
        let template = ReTemplate::full(d);
        let mut model = GlmmModel::new(data, family, link, template).unwrap();
        let theta: Vec<f64> = if d == 1 { vec![0.9] } else { vec![0.8, 0.25, 0.5] };
        let beta = vec![-0.2, 0.6];
        let analytic = model.deviance(&theta, &beta, n_agq, true).unwrap().gradient;
        let mut x: Vec<f64> = theta.iter().chain(&beta).copied().collect();
        let nt = theta.len();
        for k in 0..x.len() {
            let h = 1e-5 * x[k].abs().max(1.0);
            let x0 = x[k];
            x[k] = x0 + h;
            let fp = model.deviance(&x[..nt], &x[nt..], n_agq, false).unwrap().deviance;
            x[k] = x0 - h;
            let fm = model.deviance(&x[..nt], &x[nt..], n_agq, false).unwrap().deviance;
            x[k] = x0;
            let numeric = (fp - fm) / (2.0 * h);
            assert!(
                (numeric - analytic[k]).abs() < 1e-5 * (1.0 + numeric.abs()),
                "{family:?}/{link:?} d={d} nAGQ={n_agq} component {k}: analytic {} numeric {numeric}",
                analytic[k]
            );
        }
    }

    #[test]
    fn gradient_matches_finite_differences() {
        for (family, link) in [(Family::Binomial, Link::Logit), (Family::Binomial, Link::Probit), (Family::Binomial, Link::Cloglog), (Family::Poisson, Link::Log)] {
            for d in [1, 2] {
                for n_agq in [1, 5, 20] {
                    check_gradient(family, link, d, n_agq);
                }
            }
        }
    }

    #[test]
    fn one_node_is_laplace_and_more_nodes_converge() {
        let data = simulate(Family::Binomial, Link::Logit, 20, 1, 3);
        let mut model = GlmmModel::new(data, Family::Binomial, Link::Logit, ReTemplate::full(1)).unwrap();
        let lap = model.deviance(&[1.2], &[0.1, 0.5], 1, false).unwrap().deviance;
        let one = model.deviance(&[1.2], &[0.1, 0.5], 1, false).unwrap().deviance;
        assert_eq!(lap, one);
        let q20 = model.deviance(&[1.2], &[0.1, 0.5], 20, false).unwrap().deviance;
        let q40 = model.deviance(&[1.2], &[0.1, 0.5], 40, false).unwrap().deviance;
        assert!((q20 - q40).abs() < 1e-8, "{q20} {q40}");
        assert!((lap - q40).abs() > 1e-6);
    }
}
