//! What a fitted GLMM reports per cluster and per row: conditional modes b = Λû with their
//! conditional covariance ΛH⁻¹Λᵀ (lme4's `condVar`, H with Fisher weights), linear
//! predictor, fitted mean and deviance residuals, and the Fisher Schur complement (lme4's
//! RX'RX) used for the covariance of β̂ when the Hessian cannot be.

use crate::error::Result;
use crate::glmm::model::GlmmModel;
use crate::glmm::nagq0::{Curvature, SchurSums, add_cluster};
use crate::glmm::pirls::{Workspace, conditional_mode};
use crate::numerics::linalg::matmul;
use crate::numerics::par::map_chunks;

/// Per-cluster and per-row summaries at (θ, β).
#[derive(Clone, Debug)]
pub struct Conditional {
    /// b = Λû, cluster-major (n_clusters × d)
    pub b: Vec<f64>,
    /// Var(b | y), n_clusters blocks of d × d (column-major)
    pub cond_var: Vec<f64>,
    /// η at the modes, original row order
    pub eta: Vec<f64>,
    /// μ at the modes, original row order
    pub mu: Vec<f64>,
    /// squared deviance residuals, original row order
    pub dev_resid: Vec<f64>,
    /// Fisher Schur complement Σ fᵢ(Aᵢ − BᵢᵀHᵢ⁻¹Bᵢ)
    pub fisher: SchurSums,
}

/// Conditional modes and their companions at (θ, β).
pub fn conditional(model: &mut GlmmModel, theta: &[f64], beta: &[f64]) -> Result<Conditional> {
    let lambda = model.template.lambda(theta);
    let parallel = model.parallel(3);
    let GlmmModel { data, family, link, modes, .. } = model;
    let (fam, link, d, p, n_max) = (*family, *link, data.d, data.p, data.max_cluster_size());
    type Part = (Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>, SchurSums);
    let parts: Vec<Part> = map_chunks(data.n_clusters(), modes, d, parallel, || Workspace::new(n_max, d), |ws, range, u_chunk| {
        let (mut b, mut var, mut eta, mut dev) = (vec![], vec![], vec![], vec![]);
        let mut sums = SchurSums::zeros(p);
        let first = range.start;
        let mut hinv = vec![0.0; d * d];
        let mut tmp = vec![0.0; d * d];
        let mut out = vec![0.0; d * d];
        for i in range {
            let c = data.cluster(i);
            ws.prepare(&c, beta, &lambda);
            let u = &mut u_chunk[(i - first) * d..(i - first + 1) * d];
            let h0 = conditional_mode(&c, i, fam, link, ws, u)?;
            add_cluster(&c, ws, h0, Curvature::Fisher, &mut sums);
            b.extend((0..d).map(|r| (0..=r).map(|k| lambda[r + k * d] * u[k]).sum::<f64>()));
            ws.chol_fisher.inverse_into(&mut hinv);
            matmul(&lambda, &hinv, d, &mut tmp);
            let lam_t: Vec<f64> = (0..d * d).map(|k| lambda[(k / d) + (k % d) * d]).collect();
            matmul(&tmp, &lam_t, d, &mut out);
            var.extend_from_slice(&out);
            for j in 0..c.len() {
                eta.push(ws.eta(j, u));
                dev.push(fam.dev_resid(c.y[j], c.m[j], ws.terms[j].mu));
            }
        }
        Ok((b, var, eta, dev, sums))
    })?;
    let mut result = Conditional { b: vec![], cond_var: vec![], eta: vec![], mu: vec![], dev_resid: vec![], fisher: SchurSums::zeros(p) };
    for (b, var, eta, dev, sums) in parts {
        result.b.extend(b);
        result.cond_var.extend(var);
        result.eta.extend(eta);
        result.dev_resid.extend(dev);
        result.fisher.add(&sums);
    }
    let mu: Vec<f64> = result.eta.iter().map(|&e| fam.mu(link, e)).collect();
    result.eta = data.to_original_order(&result.eta);
    result.mu = data.to_original_order(&mu);
    result.dev_resid = data.to_original_order(&result.dev_resid);
    Ok(result)
}
