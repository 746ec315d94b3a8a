//! Standard errors of an NPML fit, in mixcat's parametrisation (spec §4):
//!
//! * OPG ("empirical information", mixcat's choice): V = (Σ_i s_i s_iᵀ)⁻¹ with s_i cluster i's
//!   exact score in the mixcat layout;
//! * Hessian: V = (−∇²ℓ)⁻¹ by central differences of the analytic score.
//!
//! Both are inverted exactly (Cholesky): a singular information matrix gives NaN standard
//! errors, never the small finite values a thresholded pseudo-inverse would give. The
//! eliminated last point and mass, and the variances Σ_dd = Σ_l π_l b_ld², get delta-method
//! standard errors.

use crate::error::Result;
use crate::npml::lik::{MixGrad, MixWork, cluster_loglik};
use crate::npml::model::{NpmlModel, NpmlParams};
use crate::numerics::optim::fd_hessian_central;
use crate::numerics::par::map_chunks;
use faer::{Mat, Side};
use faer::prelude::Solve;

/// Which covariance estimate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeKind {
    Opg,
    Hessian,
}

impl SeKind {
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "opg" => Ok(SeKind::Opg),
            "hessian" => Ok(SeKind::Hessian),
            _ => Err(crate::error::Error::bad_input(format!("se must be \"opg\" or \"hessian\", not \"{s}\""))),
        }
    }
}

/// Standard errors in natural shapes, and V in the mixcat layout.
#[derive(Clone, Debug)]
pub struct NpmlSe {
    pub vcov: Mat<f64>,
    pub alpha: Vec<f64>,
    pub beta: Vec<f64>,
    /// K × d, point-major
    pub points: Vec<f64>,
    pub masses: Vec<f64>,
    /// SE of each random-effect variance Σ_dd
    pub variances: Vec<f64>,
}

/// Per-cluster scores in the mixcat layout, m × P row-major.
pub fn cluster_scores(model: &NpmlModel, p: &NpmlParams) -> Result<Vec<f64>> {
    let data = &model.data;
    let np = model.n_mixcat();
    let eta = data.eta_fixed(&p.alpha, &p.beta);
    let log_prior: Vec<f64> = p.masses.iter().map(|m| m.ln()).collect();
    let mut out = vec![0.0; data.n_clusters() * np];
    let parallel = data.n * model.k * data.q >= crate::npml::model::NPML_PARALLEL_MIN_WORK;
    let init = || (MixWork::default(), MixGrad::zeros(data.q, data.n_beta(), model.k, data.d));
    map_chunks(data.n_clusters(), &mut out, np, parallel, init, |(ws, g), range, o| {
        for (i, s) in range.zip(o.chunks_exact_mut(np)) {
            g.fill_zero();
            cluster_loglik(data, data.starts[i]..data.starts[i + 1], &eta, &p.points, &log_prior, ws, Some(&mut *g));
            model.mixcat_score(p, g, s);
        }
        Ok(())
    })?;
    Ok(out)
}

/// −ℓ and −score in the mixcat layout at v.
pub fn mixcat_objective(model: &NpmlModel, v: &[f64]) -> Result<(f64, Vec<f64>)> {
    let p = model.from_mixcat(v);
    if p.masses.iter().any(|&m| !(m > 0.0)) {
        return Ok((f64::NAN, vec![f64::NAN; v.len()]));
    }
    let mut per = vec![0.0; model.data.n_clusters()];
    let (ll, g) = model.loglik(&p, true, &mut per)?;
    let mut s = vec![0.0; v.len()];
    model.mixcat_score(&p, &g.expect("gradient requested"), &mut s);
    Ok((-ll, s.into_iter().map(|x| -x).collect()))
}

/// The information matrix of the chosen kind (mixcat layout).
pub fn information(model: &NpmlModel, p: &NpmlParams, kind: SeKind) -> Result<Mat<f64>> {
    let np = model.n_mixcat();
    match kind {
        SeKind::Opg => {
            let s = cluster_scores(model, p)?;
            let mut b = Mat::<f64>::zeros(np, np);
            for si in s.chunks_exact(np) {
                for c in 0..np {
                    for r in 0..np {
                        b[(r, c)] += si[r] * si[c];
                    }
                }
            }
            Ok(b)
        }
        SeKind::Hessian => fd_hessian_central(&mut |v: &[f64]| mixcat_objective(model, v), &model.to_mixcat(p)),
    }
}

/// V = A⁻¹ for a positive definite A; all NaN otherwise.
pub fn invert_spd(a: &Mat<f64>) -> Mat<f64> {
    let n = a.nrows();
    let finite = (0..n).all(|i| (0..n).all(|j| a[(i, j)].is_finite()));
    match a.llt(Side::Lower) {
        Ok(l) if finite => l.solve(Mat::<f64>::identity(n, n)),
        _ => Mat::from_fn(n, n, |_, _| f64::NAN),
    }
}

/// sqrt(cᵀ V c).
fn delta_se(v: &Mat<f64>, c: &[f64]) -> f64 {
    let n = c.len();
    let mut s = 0.0;
    for i in 0..n {
        for j in 0..n {
            s += c[i] * v[(i, j)] * c[j];
        }
    }
    s.sqrt()
}

/// Standard errors from V (mixcat layout) at p.
pub fn standard_errors(model: &NpmlModel, p: &NpmlParams, vcov: Mat<f64>) -> NpmlSe {
    let (q, k, d) = (model.data.q, model.k, model.data.d);
    let nf = q + model.data.n_beta();
    let sd = |i: usize| vcov[(i, i)].sqrt();
    let alpha = (0..q).map(sd).collect();
    let beta = (q..nf).map(sd).collect();
    let mut points = vec![f64::NAN; k * d];
    let mut masses = vec![f64::NAN; k];
    let mut variances = vec![f64::NAN; d];
    if k > 1 {
        let (pk, mass_at) = (p.masses[k - 1], nf + (k - 1) * d);
        let point_at = |l: usize, e: usize| nf + e * (k - 1) + l;
        let bk = |e: usize| p.points[(k - 1) * d + e];
        let b = |l: usize, e: usize| p.points[l * d + e];
        for e in 0..d {
            for l in 0..k - 1 {
                points[l * d + e] = sd(point_at(l, e));
            }
            let mut c = vec![0.0; vcov.nrows()];
            let mut cv = vec![0.0; vcov.nrows()];
            for l in 0..k - 1 {
                c[point_at(l, e)] = -p.masses[l] / pk;
                c[mass_at + l] = (bk(e) - b(l, e)) / pk;
                cv[point_at(l, e)] = 2.0 * p.masses[l] * (b(l, e) - bk(e));
                cv[mass_at + l] = (b(l, e) - bk(e)).powi(2);
            }
            points[(k - 1) * d + e] = delta_se(&vcov, &c);
            variances[e] = delta_se(&vcov, &cv);
        }
        for l in 0..k - 1 {
            masses[l] = sd(mass_at + l);
        }
        let mut c = vec![0.0; vcov.nrows()];
        c[mass_at..mass_at + k - 1].fill(-1.0);
        masses[k - 1] = delta_se(&vcov, &c);
    }
    NpmlSe { vcov, alpha, beta, points, masses, variances }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::npml::data::testing::small_model;

    #[test]
    fn scores_sum_to_the_total_score() {
        let m = small_model(3, 2);
        let mut theta: Vec<f64> = (0..m.n_theta()).map(|i| 0.2 * (i as f64).sin()).collect();
        theta[..3].copy_from_slice(&[-1.0, 0.2, 1.4]);
        let p = m.unpack(&theta);
        let s = cluster_scores(&m, &p).unwrap();
        let (_, g) = mixcat_objective(&m, &m.to_mixcat(&p)).unwrap();
        let np = m.n_mixcat();
        for c in 0..np {
            let total: f64 = s.chunks_exact(np).map(|r| r[c]).sum();
            assert!((total + g[c]).abs() < 1e-10 * total.abs().max(1.0));
        }
    }
}
