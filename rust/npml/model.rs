//! The NPML model (Aitkin 1999; Papageorgiou & Hinde 2012): a K-point discrete random-effects
//! distribution with mean zero, its log-likelihood over all clusters, and its gradient in two
//! parametrisations.
//!
//! *Optimisation layout* θ = (α, β, a_1..a_K, ρ_1..ρ_{K−1}): masses by softmax,
//! π_l = e^{ρ_l} / Σ e^{ρ}, ρ_K = 0, so they stay inside the simplex; points
//! b_l = a_l − Σ_m π_m a_m, so the distribution has mean zero for any θ. A shift of all a_l
//! leaves the likelihood unchanged; the gauge penalty ½‖Σ_l a_l‖² removes that direction
//! without changing the maximum.
//!
//! *mixcat layout* (α, β, b_{1..K−1, dim 0}, …, b_{1..K−1, dim r}, π_1..π_{K−1}): the last point
//! and mass eliminated, b_K = −Σ_{l<K} π_l b_l / π_K, π_K = 1 − Σ_{l<K} π_l; the standard
//! errors are defined on it.

use crate::error::Result;
use crate::npml::data::OrdinalData;
use crate::npml::lik::{MixGrad, MixWork, cluster_loglik};
use crate::numerics::par::map_chunks;

/// Row-point evaluations per call from which the clusters are spread over threads: a row
/// term of the ordinal likelihood costs several transcendental functions, so the hand-off
/// pays earlier than for the GLMM kernels (`par::PARALLEL_MIN_WORK`).
pub const NPML_PARALLEL_MIN_WORK: usize = 6_000;

/// Parameters in natural form.
#[derive(Clone, Debug, PartialEq)]
pub struct NpmlParams {
    pub alpha: Vec<f64>,
    pub beta: Vec<f64>,
    /// K × d, point-major, Σ π_l b_l = 0
    pub points: Vec<f64>,
    pub masses: Vec<f64>,
}

/// Data plus the number of support points.
#[derive(Clone)]
pub struct NpmlModel {
    pub data: OrdinalData,
    pub k: usize,
}

impl NpmlModel {
    pub fn new(data: OrdinalData, k: usize) -> Self {
        NpmlModel { data, k }
    }

    fn n_fixed(&self) -> usize {
        self.data.q + self.data.n_beta()
    }

    /// Length of θ (optimisation layout); K = 1 has no random-effects parameters.
    pub fn n_theta(&self) -> usize {
        if self.k == 1 { self.n_fixed() } else { self.n_fixed() + self.k * self.data.d + self.k - 1 }
    }

    /// Length of the mixcat layout, P = q + n_p + (K − 1)(d + 1).
    pub fn n_mixcat(&self) -> usize {
        self.n_fixed() + (self.k - 1) * (self.data.d + 1)
    }

    /// θ → natural parameters.
    pub fn unpack(&self, theta: &[f64]) -> NpmlParams {
        let (q, nb, k, d) = (self.data.q, self.data.n_beta(), self.k, self.data.d);
        let alpha = theta[..q].to_vec();
        let beta = theta[q..q + nb].to_vec();
        if k == 1 {
            return NpmlParams { alpha, beta, points: vec![0.0; d], masses: vec![1.0] };
        }
        let a = &theta[q + nb..q + nb + k * d];
        let masses = softmax_last_zero(&theta[q + nb + k * d..]);
        let mean: Vec<f64> = (0..d).map(|e| (0..k).map(|l| masses[l] * a[l * d + e]).sum()).collect();
        let points = (0..k * d).map(|i| a[i] - mean[i % d]).collect();
        NpmlParams { alpha, beta, points, masses }
    }

    /// Natural parameters → θ (points taken as the a_l, centred already).
    pub fn pack(&self, p: &NpmlParams) -> Vec<f64> {
        let mut theta = [p.alpha.as_slice(), p.beta.as_slice()].concat();
        if self.k > 1 {
            theta.extend_from_slice(&p.points);
            let last = p.masses[self.k - 1].max(1e-300).ln();
            theta.extend(p.masses[..self.k - 1].iter().map(|m| m.max(1e-300).ln() - last));
        }
        theta
    }

    /// Whether the chunks of clusters are worth spreading over threads.
    pub fn parallel(&self) -> bool {
        self.data.n * self.k * self.data.q >= NPML_PARALLEL_MIN_WORK
    }

    /// ℓ and (optionally) its gradient pieces summed over clusters; `per_cluster` receives
    /// ℓ_i (length m).
    pub fn loglik(&self, p: &NpmlParams, gradient: bool, per_cluster: &mut [f64]) -> Result<(f64, Option<MixGrad>)> {
        let data = &self.data;
        let eta = data.eta_fixed(&p.alpha, &p.beta);
        let log_prior: Vec<f64> = p.masses.iter().map(|m| m.ln()).collect();
        let zeros = || MixGrad::zeros(data.q, data.n_beta(), self.k, data.d);
        let parts = map_chunks(data.n_clusters(), per_cluster, 1, self.parallel(), || (MixWork::default(), zeros()), |(ws, g), range, out| {
            let mut total = 0.0;
            g.fill_zero();
            for (i, o) in range.zip(out.iter_mut()) {
                let rows = data.starts[i]..data.starts[i + 1];
                *o = cluster_loglik(data, rows, &eta, &p.points, &log_prior, ws, gradient.then_some(&mut *g));
                total += *o;
            }
            Ok((total, gradient.then(|| g.clone())))
        })?;
        let mut ll = 0.0;
        let mut grad = gradient.then(zeros);
        for (l, g) in parts {
            ll += l;
            if let (Some(acc), Some(g)) = (grad.as_mut(), g) {
                acc.add(&g);
            }
        }
        Ok((ll, grad))
    }

    /// Posterior weights w_il (m × K, row-major) at `p`.
    pub fn posterior(&self, p: &NpmlParams) -> Result<Vec<f64>> {
        let data = &self.data;
        let eta = data.eta_fixed(&p.alpha, &p.beta);
        let log_prior: Vec<f64> = p.masses.iter().map(|m| m.ln()).collect();
        let mut post = vec![0.0; data.n_clusters() * self.k];
        map_chunks(data.n_clusters(), &mut post, self.k, self.parallel(), MixWork::default, |ws, range, out| {
            for (i, o) in range.zip(out.chunks_exact_mut(self.k)) {
                cluster_loglik(data, data.starts[i]..data.starts[i + 1], &eta, &p.points, &log_prior, ws, None);
                o.copy_from_slice(&ws.post);
            }
            Ok(())
        })?;
        Ok(post)
    }

    /// The objective minimised, −ℓ(θ) + ½‖Σ_l a_l‖², and its gradient in θ.
    pub fn objective(&self, theta: &[f64]) -> Result<(f64, Vec<f64>)> {
        let p = self.unpack(theta);
        let mut per = vec![0.0; self.data.n_clusters()];
        let (ll, g) = self.loglik(&p, true, &mut per)?;
        let mut grad = self.theta_score(&p, theta, &g.expect("gradient requested"));
        grad.iter_mut().for_each(|v| *v = -*v);
        let mut f = -ll;
        if self.k > 1 {
            let asum = self.point_sum(theta);
            f += 0.5 * asum.iter().map(|v| v * v).sum::<f64>();
            let (n_fixed, d) = (self.n_fixed(), self.data.d);
            for i in 0..self.k * d {
                grad[n_fixed + i] += asum[i % d];
            }
        }
        Ok((f, grad))
    }

    /// Σ_l a_l, per dimension: what the centring penalty ½‖Σ_l a_l‖² holds at zero.
    fn point_sum(&self, theta: &[f64]) -> Vec<f64> {
        let (k, d, nf) = (self.k, self.data.d, self.n_fixed());
        (0..d).map(|e| (0..k).map(|l| theta[nf + l * d + e]).sum()).collect()
    }

    /// ∂ℓ/∂θ from the gradient pieces (linear in them, so it also maps one cluster's pieces
    /// to that cluster's score).
    pub fn theta_score(&self, p: &NpmlParams, theta: &[f64], g: &MixGrad) -> Vec<f64> {
        let mut score: Vec<f64> = [g.alpha.as_slice(), g.beta.as_slice()].concat();
        if self.k > 1 {
            let (k, d) = (self.k, self.data.d);
            let a = &theta[self.n_fixed()..self.n_fixed() + k * d];
            let gsum: Vec<f64> = (0..d).map(|e| (0..k).map(|l| g.points[l * d + e]).sum()).collect();
            score.extend((0..k * d).map(|i| g.points[i] - p.masses[i / d] * gsum[i % d]));
            // ∂ℓ/∂π_m in total (directly and through the centring), then through the softmax
            let t: Vec<f64> = (0..k).map(|m| g.masses[m] - (0..d).map(|e| gsum[e] * a[m * d + e]).sum::<f64>()).collect();
            let tbar: f64 = (0..k).map(|m| p.masses[m] * t[m]).sum();
            score.extend((0..k - 1).map(|m| p.masses[m] * (t[m] - tbar)));
        }
        score
    }

    /// The BHHH approximation of the objective's Hessian at θ: Σᵢ sᵢsᵢᵀ over the clusters'
    /// scores in θ, plus the centring penalty's Hessian (1 on every pair of points, per
    /// dimension). Cheap (one pass) and positive semi-definite: a quasi-Newton seed.
    pub fn bhhh(&self, theta: &[f64]) -> Result<faer::Mat<f64>> {
        let p = self.unpack(theta);
        let data = &self.data;
        let nt = self.n_theta();
        let eta = data.eta_fixed(&p.alpha, &p.beta);
        let log_prior: Vec<f64> = p.masses.iter().map(|m| m.ln()).collect();
        let zeros = || (MixWork::default(), MixGrad::zeros(data.q, data.n_beta(), self.k, data.d));
        let mut scores = vec![0.0; data.n_clusters() * nt];
        map_chunks(data.n_clusters(), &mut scores, nt, self.parallel(), zeros, |(ws, g), range, out| {
            for (i, s) in range.zip(out.chunks_exact_mut(nt)) {
                g.fill_zero();
                cluster_loglik(data, data.starts[i]..data.starts[i + 1], &eta, &p.points, &log_prior, ws, Some(&mut *g));
                s.copy_from_slice(&self.theta_score(&p, theta, g));
            }
            Ok(())
        })?;
        let mut h = faer::Mat::<f64>::zeros(nt, nt);
        for s in scores.chunks_exact(nt) {
            for c in 0..nt {
                for r in c..nt {
                    h[(r, c)] += s[r] * s[c];
                }
            }
        }
        let (nf, d) = (self.n_fixed(), data.d);
        for i in 0..self.k * d {
            for j in 0..=i {
                if i % d == j % d && self.k > 1 {
                    h[(nf + i, nf + j)] += 1.0;
                }
            }
        }
        Ok(faer::Mat::from_fn(nt, nt, |r, c| if r >= c { h[(r, c)] } else { h[(c, r)] }))
    }

    /// mixcat layout → natural parameters (masses may leave the simplex here: only used for
    /// derivatives at an interior estimate).
    pub fn from_mixcat(&self, v: &[f64]) -> NpmlParams {
        let (k, d, nf) = (self.k, self.data.d, self.n_fixed());
        let q = self.data.q;
        let mut masses: Vec<f64> = v[nf + (k - 1) * d..].to_vec();
        masses.push(1.0 - masses.iter().sum::<f64>());
        let mut points = vec![0.0; k * d];
        for e in 0..d {
            for l in 0..k - 1 {
                points[l * d + e] = v[nf + e * (k - 1) + l];
            }
            let s: f64 = (0..k - 1).map(|l| masses[l] * points[l * d + e]).sum();
            points[(k - 1) * d + e] = -s / masses[k - 1];
        }
        NpmlParams { alpha: v[..q].to_vec(), beta: v[q..nf].to_vec(), points, masses }
    }

    /// Natural parameters → mixcat layout.
    pub fn to_mixcat(&self, p: &NpmlParams) -> Vec<f64> {
        let (k, d) = (self.k, self.data.d);
        let mut v = [p.alpha.as_slice(), p.beta.as_slice()].concat();
        for e in 0..d {
            v.extend((0..k - 1).map(|l| p.points[l * d + e]));
        }
        v.extend_from_slice(&p.masses[..k - 1]);
        v
    }

    /// Gradient pieces → score in the mixcat layout (spec §3.3 b, exact chain rule).
    pub fn mixcat_score(&self, p: &NpmlParams, g: &MixGrad, out: &mut [f64]) {
        let (k, d, nf) = (self.k, self.data.d, self.n_fixed());
        let q = self.data.q;
        out[..q].copy_from_slice(&g.alpha);
        out[q..nf].copy_from_slice(&g.beta);
        if k == 1 {
            return;
        }
        let pk = p.masses[k - 1];
        let gk = &g.points[(k - 1) * d..];
        for e in 0..d {
            for l in 0..k - 1 {
                out[nf + e * (k - 1) + l] = g.points[l * d + e] - p.masses[l] / pk * gk[e];
            }
        }
        let bk = &p.points[(k - 1) * d..];
        for a in 0..k - 1 {
            let through_bk: f64 = (0..d).map(|e| gk[e] * (bk[e] - p.points[a * d + e]) / pk).sum();
            out[nf + (k - 1) * d + a] = g.masses[a] - g.masses[k - 1] + through_bk;
        }
    }
}

/// Softmax of (ρ_1, …, ρ_{K−1}, 0).
pub fn softmax_last_zero(rho: &[f64]) -> Vec<f64> {
    let m = rho.iter().copied().fold(0.0f64, f64::max);
    let mut e: Vec<f64> = rho.iter().map(|r| (r - m).exp()).collect();
    e.push((-m).exp());
    let s: f64 = e.iter().sum();
    e.iter_mut().for_each(|v| *v /= s);
    e
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::npml::data::testing::small_model;

    /// Ordered cutpoints, small other values.
    fn test_theta(m: &NpmlModel, freq: f64) -> Vec<f64> {
        let mut theta: Vec<f64> = (0..m.n_theta()).map(|i| 0.2 * ((i as f64) * freq).sin()).collect();
        theta[..3].copy_from_slice(&[-1.0, 0.2, 1.4]);
        theta
    }

    #[test]
    fn objective_gradient_matches_central_differences() {
        for (k, d) in [(1, 1), (2, 1), (3, 2)] {
            let m = small_model(k, d);
            let theta = test_theta(&m, 1.7);
            let (_, g) = m.objective(&theta).unwrap();
            for i in 0..theta.len() {
                let h = 1e-6;
                let (mut up, mut dn) = (theta.clone(), theta.clone());
                up[i] += h;
                dn[i] -= h;
                let fd = (m.objective(&up).unwrap().0 - m.objective(&dn).unwrap().0) / (2.0 * h);
                assert!((fd - g[i]).abs() < 1e-5 * fd.abs().max(1.0), "k={k} d={d} i={i}: {fd} vs {}", g[i]);
            }
        }
    }

    #[test]
    fn mixcat_score_matches_central_differences() {
        let m = small_model(3, 2);
        let theta = test_theta(&m, 1.3);
        let p = m.unpack(&theta);
        let v = m.to_mixcat(&p);
        assert_eq!(m.from_mixcat(&v).points.len(), p.points.len());
        let mut per = vec![0.0; m.data.n_clusters()];
        let (_, g) = m.loglik(&p, true, &mut per).unwrap();
        let mut s = vec![0.0; m.n_mixcat()];
        m.mixcat_score(&p, &g.unwrap(), &mut s);
        let ll = |v: &[f64]| m.loglik(&m.from_mixcat(v), false, &mut per.clone()).unwrap().0;
        for i in 0..v.len() {
            let h = 1e-6;
            let (mut up, mut dn) = (v.clone(), v.clone());
            up[i] += h;
            dn[i] -= h;
            let fd = (ll(&up) - ll(&dn)) / (2.0 * h);
            assert!((fd - s[i]).abs() < 1e-5 * fd.abs().max(1.0), "i={i}: {fd} vs {}", s[i]);
        }
    }

    #[test]
    fn points_have_mean_zero_and_masses_stay_in_the_simplex() {
        let m = small_model(3, 2);
        let theta: Vec<f64> = (0..m.n_theta()).map(|i| 40.0 * ((i as f64) * 0.9).sin()).collect();
        let p = m.unpack(&theta);
        assert!(p.masses.iter().all(|&w| (0.0..=1.0).contains(&w)));
        assert!((p.masses.iter().sum::<f64>() - 1.0).abs() < 1e-14);
        for e in 0..2 {
            let mean: f64 = (0..3).map(|l| p.masses[l] * p.points[l * 2 + e]).sum();
            assert!(mean.abs() < 1e-9);
        }
    }
}
