//! lme4's `nAGQ = 0`: β is estimated together with u at the joint mode of the penalised
//! deviance (penalised IRLS on both), and θ alone is optimised on the Laplace criterion
//! evaluated there (Bates et al. 2015; lme4's first optimisation stage).
//!
//! With one grouping factor the joint system is block-arrowhead: per cluster the d × d block
//! Hᵢ and the cross block Bᵢ = Σⱼ wⱼaⱼxⱼᵀ, and the p × p block Σᵢ Aᵢ (Aᵢ = Σⱼ wⱼxⱼxⱼᵀ).
//! Eliminating the clusters leaves the Schur complement S = Σᵢ fᵢ(Aᵢ − BᵢᵀHᵢ⁻¹Bᵢ), the exact
//! curvature of the penalised deviance profiled over u. A Newton step on β is therefore
//! S⁻¹·(Σ fᵢ Xᵢᵀgᵢ) with the modes re-solved, and S (with Fisher weights) is lme4's RX'RX.

use crate::error::{Error, Result};
use crate::glmm::agq::{Accum, GradOut, gradient, laplace_accumulators};
use crate::glmm::model::{Evaluation, GlmmModel};
use crate::glmm::pirls::{Workspace, conditional_mode};
use crate::numerics::par::map_chunks;
use crate::terms::cluster::Cluster;
use faer::{Mat, Side};
use faer::prelude::Solve;

/// Which curvature weights build the Schur complement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Curvature {
    Fisher,
    Observed,
}

/// Sums over clusters at their conditional modes.
#[derive(Clone, Debug)]
pub struct SchurSums {
    /// Σ fᵢ(Aᵢ − BᵢᵀHᵢ⁻¹Bᵢ), lower triangle
    pub s: Mat<f64>,
    /// Σ fᵢ Xᵢᵀgᵢ, the score for β at the modes
    pub score: Vec<f64>,
    /// Σ fᵢ(c_β,ᵢ − BᵢᵀHᵢ⁻¹cᵢ): the log-determinant's pull on β after eliminating u
    pub logdet_pull: Vec<f64>,
    /// Σ fᵢ·2h(ûᵢ), the penalised deviance (without the likelihood constant)
    pub penalised: f64,
    /// Σ fᵢ log det Hᵢ (Fisher)
    pub logdet: f64,
}

impl SchurSums {
    /// Zero sums for p fixed effects.
    pub fn zeros(p: usize) -> Self {
        SchurSums { s: Mat::zeros(p, p), score: vec![0.0; p], logdet_pull: vec![0.0; p], penalised: 0.0, logdet: 0.0 }
    }

    /// Add another set of sums.
    pub fn add(&mut self, other: &SchurSums) {
        self.s += &other.s;
        self.score.iter_mut().zip(&other.score).for_each(|(a, b)| *a += b);
        self.logdet_pull.iter_mut().zip(&other.logdet_pull).for_each(|(a, b)| *a += b);
        self.penalised += other.penalised;
        self.logdet += other.logdet;
    }

    /// S as a full symmetric matrix.
    pub fn full(&self) -> Mat<f64> {
        let p = self.score.len();
        Mat::from_fn(p, p, |i, j| if i >= j { self.s[(i, j)] } else { self.s[(j, i)] })
    }

    /// S⁻¹·v (S from the lower triangle).
    pub fn solve(&self, v: &[f64]) -> Option<Vec<f64>> {
        let p = v.len();
        let rhs = Mat::from_fn(p, 1, |i, _| v[i]);
        let sol = self.full().llt(Side::Lower).ok()?.solve(&rhs);
        Some((0..p).map(|i| sol[(i, 0)]).collect())
    }

    /// S⁻¹, the covariance of β̂ when S uses Fisher weights.
    pub fn inverse(&self) -> Option<Mat<f64>> {
        let p = self.score.len();
        let llt = self.full().llt(Side::Lower).ok()?;
        Some(llt.solve(&Mat::<f64>::identity(p, p)))
    }
}

/// Add one cluster (at its mode, curvatures factored in `ws`) to the sums.
pub fn add_cluster(c: &Cluster, ws: &Workspace, h0: f64, curvature: Curvature, sums: &mut SchurSums) {
    let (n, d, p) = (c.len(), c.d, c.p);
    let chol = if curvature == Curvature::Fisher { &ws.chol_fisher } else { &ws.chol_obs };
    let mut hinv = vec![0.0; d * d];
    ws.chol_fisher.inverse_into(&mut hinv);
    // B (d × p, column-major), the log-determinant's pull cᵢ (d) and c_β (p)
    let mut b = vec![0.0; d * p];
    let mut cu = vec![0.0; d];
    let mut cb = vec![0.0; p];
    for j in 0..n {
        let t = ws.terms[j];
        let w = if curvature == Curvature::Fisher { t.w_fisher } else { t.w_obs };
        let aj = &ws.a[j * d..(j + 1) * d];
        let xj = &c.x[j * p..(j + 1) * p];
        let dws = t.dw_fisher * crate::numerics::linalg::quad_form(&hinv, d, aj);
        for col in 0..p {
            let wx = c.freq * w * xj[col];
            for row in col..p {
                sums.s[(row, col)] += wx * xj[row];
            }
            for r in 0..d {
                b[r + col * d] += w * aj[r] * xj[col];
            }
            sums.score[col] += c.freq * t.score * xj[col];
            cb[col] += dws * xj[col];
        }
        cu.iter_mut().zip(aj).for_each(|(cu, a)| *cu += dws * a);
    }
    // subtract fᵢ·BᵀH⁻¹B and fᵢ·BᵀH⁻¹c
    let mut hinv_b = b.clone();
    for col in 0..p {
        chol.solve(&mut hinv_b[col * d..(col + 1) * d]);
    }
    chol.solve(&mut cu);
    for col in 0..p {
        for row in col..p {
            let v: f64 = (0..d).map(|r| b[r + row * d] * hinv_b[r + col * d]).sum();
            sums.s[(row, col)] -= c.freq * v;
        }
        let bc: f64 = (0..d).map(|r| b[r + col * d] * cu[r]).sum();
        sums.logdet_pull[col] += c.freq * (cb[col] - bc);
    }
    sums.penalised += c.freq * 2.0 * h0;
    sums.logdet += c.freq * ws.chol_fisher.logdet();
}

/// One pass over the clusters at (θ, β): modes re-solved, sums accumulated.
pub fn schur_pass(model: &mut GlmmModel, lambda: &[f64], beta: &[f64], curvature: Curvature) -> Result<SchurSums> {
    let parallel = model.parallel(3);
    let GlmmModel { data, family, link, modes, .. } = model;
    let (fam, link, d, p, n_max) = (*family, *link, data.d, data.p, data.max_cluster_size());
    let parts = map_chunks(data.n_clusters(), modes, d, parallel, || Workspace::new(n_max, d), |ws, range, u_chunk| {
        let mut sums = SchurSums::zeros(p);
        let first = range.start;
        for i in range {
            let c = data.cluster(i);
            ws.prepare(&c, beta, lambda);
            let h0 = conditional_mode(&c, i, fam, link, ws, &mut u_chunk[(i - first) * d..(i - first + 1) * d])?;
            add_cluster(&c, ws, h0, curvature, &mut sums);
        }
        Ok(sums)
    })?;
    let mut total = SchurSums::zeros(p);
    parts.iter().for_each(|s| total.add(s));
    Ok(total)
}

/// Move β (and the modes) to the joint mode of the penalised deviance at θ.
pub fn joint_mode(model: &mut GlmmModel, lambda: &[f64], beta: &mut Vec<f64>) -> Result<SchurSums> {
    let mut sums = schur_pass(model, lambda, beta, Curvature::Observed)?;
    for _ in 0..100 {
        let step = sums.solve(&sums.score).ok_or(Error::NotPositiveDefinite { what: "the profiled curvature of the penalised deviance in beta", block: None })?;
        let decrement: f64 = step.iter().zip(&sums.score).map(|(a, b)| a * b).sum();
        if decrement <= 1e-18 * (1.0 + sums.penalised.abs()) {
            return Ok(sums);
        }
        let mut alpha = 1.0;
        loop {
            let trial: Vec<f64> = beta.iter().zip(&step).map(|(b, s)| b + alpha * s).collect();
            let saved = model.modes.clone();
            match schur_pass(model, lambda, &trial, Curvature::Observed) {
                Ok(t) if t.penalised <= sums.penalised || decrement < 1e-10 => {
                    *beta = trial;
                    sums = t;
                    break;
                }
                _ => model.modes = saved,
            }
            alpha *= 0.5;
            if alpha < 1e-10 {
                return Err(Error::PirlsStepHalving { cluster: usize::MAX });
            }
        }
    }
    Ok(sums)
}

/// The nAGQ = 0 criterion at θ (β moved to its joint mode, starting from `beta`), and its
/// gradient with respect to θ.
pub fn deviance(model: &mut GlmmModel, theta: &[f64], beta: &mut Vec<f64>, want_grad: bool) -> Result<Evaluation> {
    let lambda = model.template.lambda(theta);
    let sums = joint_mode(model, &lambda, beta)?;
    let deviance = sums.penalised + sums.logdet - 2.0 * model.loglik_constant;
    if !want_grad {
        return Ok(Evaluation { deviance, gradient: vec![] });
    }
    let zeta_beta = sums.solve(&sums.logdet_pull).ok_or(Error::NotPositiveDefinite { what: "the profiled curvature in beta", block: None })?;
    let g_lambda = profiled_lambda_gradient(model, &lambda, beta, &zeta_beta)?;
    Ok(Evaluation { deviance, gradient: model.template.gather(&g_lambda) })
}

/// Σᵢ fᵢ ∂(−2 log Lᵢ)/∂Λ with β's implicit dependence on θ carried by ζ_β.
fn profiled_lambda_gradient(model: &mut GlmmModel, lambda: &[f64], beta: &[f64], zeta_beta: &[f64]) -> Result<Vec<f64>> {
    let parallel = model.parallel(3);
    let GlmmModel { data, family, link, modes, .. } = model;
    let (fam, link, d, p, n_max) = (*family, *link, data.d, data.p, data.max_cluster_size());
    let parts = map_chunks(data.n_clusters(), modes, d, parallel, || (Workspace::new(n_max, d), Accum::new(n_max, d)), |(ws, acc), range, u_chunk| {
        let mut g_lambda = vec![0.0; d * d];
        let mut g_beta = vec![0.0; p];
        let first = range.start;
        for i in range {
            let c = data.cluster(i);
            ws.prepare(&c, beta, lambda);
            let u = &mut u_chunk[(i - first) * d..(i - first + 1) * d];
            conditional_mode(&c, i, fam, link, ws, u)?;
            laplace_accumulators(&c, ws, acc, u);
            gradient(&c, lambda, ws, acc, u, true, Some(zeta_beta), GradOut { beta: &mut g_beta, lambda: &mut g_lambda });
        }
        Ok(g_lambda)
    })?;
    let mut total = vec![0.0; d * d];
    for g in parts {
        total.iter_mut().zip(&g).for_each(|(a, b)| *a += b);
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::family::{Family, Link};
    use crate::terms::remat::ReTemplate;
    use crate::testdata::simulate;

    #[test]
    fn profiled_gradient_matches_finite_differences() {
        for (family, link, d) in [(Family::Binomial, Link::Logit, 1), (Family::Binomial, Link::Probit, 2), (Family::Poisson, Link::Log, 2)] {
            let data = simulate(family, link, 15, d, 11);
            let mut model = GlmmModel::new(data, family, link, ReTemplate::full(d)).unwrap();
            let mut theta: Vec<f64> = if d == 1 { vec![0.7] } else { vec![0.7, 0.2, 0.4] };
            let mut beta = vec![0.0, 0.0];
            let analytic = deviance(&mut model, &theta, &mut beta, true).unwrap().gradient;
            for k in 0..theta.len() {
                let t0 = theta[k];
                let h = 1e-5;
                theta[k] = t0 + h;
                let fp = deviance(&mut model, &theta, &mut beta, false).unwrap().deviance;
                theta[k] = t0 - h;
                let fm = deviance(&mut model, &theta, &mut beta, false).unwrap().deviance;
                theta[k] = t0;
                let numeric = (fp - fm) / (2.0 * h);
                assert!((numeric - analytic[k]).abs() < 1e-5 * (1.0 + numeric.abs()), "{family:?} {link:?} d={d} θ{k}: {} vs {numeric}", analytic[k]);
            }
        }
    }
}
