//! The categorical log-likelihood of one row and the mixture log-likelihood of one cluster,
//! in log space, with analytic first derivatives.
//!
//! A cluster's likelihood is a finite mixture over support points b_l with prior weights π_l
//! (Aitkin 1999; Papageorgiou & Hinde 2012):
//!
//!   ℓ_i = log Σ_l π_l f_il,   log f_il = Σ_j log p_{ij,y_ij}(η_ij + z_ijᵀ b_l),
//!
//! evaluated by log-sum-exp so that clusters with hundreds of rows do not underflow. Adaptive
//! quadrature for a normal random effect is the same sum with cluster-specific points.

use crate::npml::data::{OrdLink, OrdinalData};
use std::ops::Range;

/// log(1 + eˣ) without overflow or loss of precision.
#[inline]
pub fn softplus(x: f64) -> f64 {
    if x > 0.0 { x + (-x).exp().ln_1p() } else { x.exp().ln_1p() }
}

/// 1 / (1 + e⁻ˣ).
#[inline]
pub fn expit(x: f64) -> f64 {
    if x >= 0.0 { 1.0 / (1.0 + (-x).exp()) } else { let e = x.exp(); e / (1.0 + e) }
}

/// One row's log-probability of its observed category and its derivatives.
#[derive(Clone, Copy, Debug)]
pub struct RowTerms {
    /// log p_y
    pub logp: f64,
    /// d log p_y / ds for a common shift s of all q logits (the random part z'b enters so)
    pub ds: f64,
    /// d² log p_y / ds² (≤ 0: both links are log-concave in s)
    pub ds2: f64,
}

/// log p_y(η) and r = ∂ log p_y / ∂η (written into `r`, length q).
///
/// Cumulative logit, γ_c = expit(η_c), γ_0 = 0, γ_Q = 1: p_y = γ_y − γ_{y−1}, computed as
/// γ_a (1 − γ_b)(1 − e^{−(a−b)}) so that tail probabilities keep their relative precision;
/// crossed cutpoints (a ≤ b) give log p = −∞, never a negative probability.
/// Baseline-category logit: log p_y = η_y − log(1 + Σ_c e^{η_c}), η_Q = 0.
#[inline]
pub fn row_terms(link: OrdLink, eta: &[f64], y: usize, r: &mut [f64]) -> RowTerms {
    r.fill(0.0);
    match link {
        OrdLink::CLogit => clogit_terms(eta, y, r),
        OrdLink::BLogit => blogit_terms(eta, y, r),
    }
}

/// (expit(x), expit(−x)) from one exponential, each with full relative precision.
#[inline]
fn expit_pair(x: f64) -> (f64, f64) {
    let e = (-x.abs()).exp();
    let (big, small) = (1.0 / (1.0 + e), e / (1.0 + e));
    if x >= 0.0 { (big, small) } else { (small, big) }
}

fn clogit_terms(eta: &[f64], y: usize, r: &mut [f64]) -> RowTerms {
    let q = eta.len();
    if y == 0 {
        let a = eta[0];
        let (ga, ha) = expit_pair(a);
        r[0] = ha;
        return RowTerms { logp: ga.ln(), ds: ha, ds2: -ga * ha };
    }
    if y == q {
        let b = eta[q - 1];
        let (gb, hb) = expit_pair(b);
        r[q - 1] = -gb;
        return RowTerms { logp: hb.ln(), ds: -gb, ds2: -gb * hb };
    }
    let (a, b) = (eta[y], eta[y - 1]);
    let ((ga, ha), (gb, hb)) = (expit_pair(a), expit_pair(b));
    // 1 − e^{−(a−b)}, ≤ 0 when the cutpoints cross; expm1 only where the difference is small
    let gap = if a - b > 0.5 { 1.0 - (b - a).exp() } else { -(b - a).exp_m1() };
    if !(gap > 0.0) {
        r[y] = f64::NAN;
        return RowTerms { logp: f64::NEG_INFINITY, ds: f64::NAN, ds2: f64::NAN };
    }
    r[y] = ha / (hb * gap);
    r[y - 1] = -gb / (ga * gap);
    // p = γ_a (1 − γ_b)(1 − e^{−(a−b)}); the product underflows only in extreme tails
    let p = ga * hb * gap;
    let logp = if p > 1e-280 { p.ln() } else { ga.ln() + hb.ln() + gap.ln() };
    RowTerms { logp, ds: ha - gb, ds2: -ga * ha - gb * hb }
}

fn blogit_terms(eta: &[f64], y: usize, r: &mut [f64]) -> RowTerms {
    let q = eta.len();
    let m = eta.iter().fold(0.0f64, |m, &e| m.max(e));
    let lse = m + ((-m).exp() + eta.iter().map(|&e| (e - m).exp()).sum::<f64>()).ln();
    for c in 0..q {
        r[c] = -(eta[c] - lse).exp();
    }
    let p_last = (-lse).exp();
    let logp = if y < q { r[y] += 1.0; eta[y] - lse } else { -lse };
    let ds = if y < q { p_last } else { p_last - 1.0 };
    RowTerms { logp, ds, ds2: -p_last * (1.0 - p_last) }
}

/// Per-cluster scratch space, allocated once per chunk of clusters.
#[derive(Default)]
pub struct MixWork {
    /// log f_il + log π_l for each point
    pub log_joint: Vec<f64>,
    /// posterior weights w_il
    pub post: Vec<f64>,
    /// ∂ log p/∂η for every (point, row) pair: K × n_i × q
    r: Vec<f64>,
    /// d log p/ds for every (point, row): K × n_i
    ds: Vec<f64>,
    eta: Vec<f64>,
    rbar: Vec<f64>,
}

/// Gradient pieces of one cluster (or a sum of clusters) in the "all points and masses free"
/// layout: ∂ℓ/∂α, ∂ℓ/∂β, ∂ℓ/∂b_l (K × d) and ∂ℓ/∂π_l = f_il / L_i.
#[derive(Clone, Debug)]
pub struct MixGrad {
    pub alpha: Vec<f64>,
    pub beta: Vec<f64>,
    pub points: Vec<f64>,
    pub masses: Vec<f64>,
}

impl MixGrad {
    pub fn zeros(q: usize, n_beta: usize, k: usize, d: usize) -> Self {
        MixGrad { alpha: vec![0.0; q], beta: vec![0.0; n_beta], points: vec![0.0; k * d], masses: vec![0.0; k] }
    }

    pub fn fill_zero(&mut self) {
        for v in [&mut self.alpha, &mut self.beta, &mut self.points, &mut self.masses] {
            v.fill(0.0);
        }
    }

    /// self += other.
    pub fn add(&mut self, other: &MixGrad) {
        let pairs = [(&mut self.alpha, &other.alpha), (&mut self.beta, &other.beta), (&mut self.points, &other.points), (&mut self.masses, &other.masses)];
        for (a, b) in pairs {
            a.iter_mut().zip(b).for_each(|(a, b)| *a += b);
        }
    }
}

/// log Σ exp(v).
pub fn log_sum_exp(v: &[f64]) -> f64 {
    let m = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !m.is_finite() {
        return m;
    }
    m + v.iter().map(|x| (x - m).exp()).sum::<f64>().ln()
}

/// ℓ_i = log Σ_l exp(log_prior_l + log f_il) of the cluster with rows `rows`, points
/// `points` (K × d, point-major). Leaves the posterior weights in `ws.post` and, with `grad`,
/// adds the cluster's gradient pieces to it.
pub fn cluster_loglik(data: &OrdinalData, rows: Range<usize>, eta_fix: &[f64], points: &[f64], log_prior: &[f64], ws: &mut MixWork, grad: Option<&mut MixGrad>) -> f64 {
    let (q, d, k) = (data.q, data.d, log_prior.len());
    let n_i = rows.len();
    ws.log_joint.resize(k, 0.0);
    ws.post.resize(k, 0.0);
    ws.r.resize(k * n_i * q, 0.0);
    ws.ds.resize(k * n_i, 0.0);
    ws.eta.resize(q, 0.0);
    for l in 0..k {
        let b = &points[l * d..(l + 1) * d];
        let mut lf = log_prior[l];
        for (j, row) in rows.clone().enumerate() {
            let z = &data.z[row * d..(row + 1) * d];
            let shift: f64 = z.iter().zip(b).map(|(z, b)| z * b).sum();
            ws.eta.iter_mut().zip(&eta_fix[row * q..(row + 1) * q]).for_each(|(e, f)| *e = f + shift);
            let at = (l * n_i + j) * q;
            let t = row_terms(data.link, &ws.eta, data.y[row] as usize, &mut ws.r[at..at + q]);
            ws.ds[l * n_i + j] = t.ds;
            lf += t.logp;
        }
        ws.log_joint[l] = lf;
    }
    let ll = log_sum_exp(&ws.log_joint);
    for l in 0..k {
        ws.post[l] = (ws.log_joint[l] - ll).exp();
    }
    if let Some(g) = grad {
        add_cluster_grad(data, rows, log_prior, ll, ws, g);
    }
    ll
}

fn add_cluster_grad(data: &OrdinalData, rows: Range<usize>, log_prior: &[f64], ll: f64, ws: &mut MixWork, g: &mut MixGrad) {
    let (q, d, k) = (data.q, data.d, log_prior.len());
    let n_i = rows.len();
    let mut rbar = std::mem::take(&mut ws.rbar);
    rbar.resize(q, 0.0);
    for (j, row) in rows.clone().enumerate() {
        rbar.fill(0.0);
        for l in 0..k {
            let w = ws.post[l];
            if w == 0.0 {
                continue;
            }
            let at = (l * n_i + j) * q;
            rbar.iter_mut().zip(&ws.r[at..at + q]).for_each(|(a, r)| *a += w * r);
        }
        data.add_fixed_grad(row, &rbar, &mut g.alpha, &mut g.beta);
    }
    ws.rbar = rbar;
    for l in 0..k {
        let w = ws.post[l];
        g.masses[l] += (ws.log_joint[l] - log_prior[l] - ll).exp();
        if w == 0.0 {
            continue;
        }
        let gp = &mut g.points[l * d..(l + 1) * d];
        for (j, row) in rows.clone().enumerate() {
            let s = w * ws.ds[l * n_i + j];
            gp.iter_mut().zip(&data.z[row * d..(row + 1) * d]).for_each(|(g, z)| *g += s * z);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_gradients_match_central_differences() {
        let etas: [&[f64]; 3] = [&[-1.3, 0.2, 1.7], &[-30.0, -20.0, 25.0], &[0.4, 2.5, 9.0]];
        for link in [OrdLink::CLogit, OrdLink::BLogit] {
            for eta in etas {
                for y in 0..=3 {
                    let mut r = [0.0; 3];
                    let t = row_terms(link, eta, y, &mut r);
                    let mut scratch = [0.0; 3];
                    let f = |e: &[f64], s: &mut [f64]| row_terms(link, e, y, s).logp;
                    let mut sum = 0.0;
                    for c in 0..3 {
                        let h = 1e-6 * eta[c].abs().max(1.0);
                        let mut e = eta.to_vec();
                        e[c] += h;
                        let fp = f(&e, &mut scratch);
                        e[c] -= 2.0 * h;
                        let fm = f(&e, &mut scratch);
                        let fd = (fp - fm) / (2.0 * h);
                        assert!((fd - r[c]).abs() < 1e-6 * r[c].abs().max(1.0), "{link:?} eta={eta:?} y={y} c={c}: {fd} vs {}", r[c]);
                        sum += r[c];
                    }
                    assert!((sum - t.ds).abs() < 1e-10 * sum.abs().max(1.0), "{link:?} ds");
                    let h = 1e-4;
                    let shifted = |s: f64| { let e: Vec<f64> = eta.iter().map(|v| v + s).collect(); row_terms(link, &e, y, &mut [0.0; 3]).ds };
                    let fd2 = (shifted(h) - shifted(-h)) / (2.0 * h);
                    assert!((fd2 - t.ds2).abs() < 1e-6, "{link:?} ds2 {fd2} vs {}", t.ds2);
                }
            }
        }
    }

    #[test]
    fn probabilities_sum_to_one_and_tails_keep_precision() {
        for link in [OrdLink::CLogit, OrdLink::BLogit] {
            let eta = [-0.7, 0.3, 2.0];
            let total: f64 = (0..=3).map(|y| row_terms(link, &eta, y, &mut [0.0; 3]).logp.exp()).sum();
            assert!((total - 1.0).abs() < 1e-14);
        }
        // P(y = 2) with cutpoints at 40 and 41: about e^{-40}(1 - e^{-1}), not 0
        let t = row_terms(OrdLink::CLogit, &[-50.0, 40.0, 41.0], 2, &mut [0.0; 3]);
        assert!((t.logp - (-40.0 + (1.0 - (-1.0f64).exp()).ln())).abs() < 1e-9);
        // crossed cutpoints are impossible, not negative probabilities
        let t = row_terms(OrdLink::CLogit, &[0.0, 1.0, 0.5], 2, &mut [0.0; 3]);
        assert_eq!(t.logp, f64::NEG_INFINITY);
    }

    #[test]
    fn cluster_gradient_matches_central_differences() {
        let (q, n) = (2usize, 5usize);
        let y = [0u32, 2, 1, 1, 2];
        let x: Vec<f64> = vec![0.5, -1.0, 0.3, 2.0, -0.4, 1.0, 1.0, 0.0, 0.0, 1.0];
        let z: Vec<f64> = (0..n).map(|_| 1.0).chain([0.2, -0.5, 1.1, 0.7, -1.3]).collect();
        for link in [OrdLink::CLogit, OrdLink::BLogit] {
            let data = OrdinalData::new(&y, q, &x, 2, &[false, true], &z, 2, &[0, n], link).unwrap();
            let alpha = [-0.4, 0.9];
            let beta = [0.3, -0.2, 0.6];
            let points = [-1.0, 0.3, 0.5, -0.2, 1.5, 0.4];
            let lp: Vec<f64> = [0.2f64, 0.5, 0.3].iter().map(|v| v.ln()).collect();
            let value = |alpha: &[f64], beta: &[f64], points: &[f64], lp: &[f64]| {
                let eta = data.eta_fixed(alpha, beta);
                cluster_loglik(&data, 0..n, &eta, points, lp, &mut MixWork::default(), None)
            };
            let mut g = MixGrad::zeros(q, 3, 3, 2);
            let eta = data.eta_fixed(&alpha, &beta);
            cluster_loglik(&data, 0..n, &eta, &points, &lp, &mut MixWork::default(), Some(&mut g));
            let h = 1e-6;
            let check = |fd: f64, an: f64, what: &str| assert!((fd - an).abs() < 1e-6, "{link:?} {what}: fd {fd} vs {an}");
            for c in 0..q {
                let (mut ap, mut am) = (alpha, alpha);
                ap[c] += h;
                am[c] -= h;
                check((value(&ap, &beta, &points, &lp) - value(&am, &beta, &points, &lp)) / (2.0 * h), g.alpha[c], "alpha");
            }
            for c in 0..3 {
                let (mut bp, mut bm) = (beta, beta);
                bp[c] += h;
                bm[c] -= h;
                check((value(&alpha, &bp, &points, &lp) - value(&alpha, &bm, &points, &lp)) / (2.0 * h), g.beta[c], "beta");
            }
            for c in 0..6 {
                let (mut pp, mut pm) = (points, points);
                pp[c] += h;
                pm[c] -= h;
                check((value(&alpha, &beta, &pp, &lp) - value(&alpha, &beta, &pm, &lp)) / (2.0 * h), g.points[c], "points");
            }
            // ∂ℓ/∂π_l through log π_l
            for l in 0..3 {
                let pi = lp[l].exp();
                let (mut up, mut dn) = (lp.clone(), lp.clone());
                up[l] = (pi + h).ln();
                dn[l] = (pi - h).ln();
                check((value(&alpha, &beta, &points, &up) - value(&alpha, &beta, &points, &dn)) / (2.0 * h), g.masses[l], "masses");
            }
        }
    }

    #[test]
    fn large_clusters_do_not_underflow() {
        let n = 2000;
        let y: Vec<u32> = (0..n).map(|i| (i % 3) as u32).collect();
        let data = OrdinalData::new(&y, 2, &[], 0, &[], &vec![1.0; n], 1, &[0, n], OrdLink::CLogit).unwrap();
        let eta = data.eta_fixed(&[-0.5, 0.5], &[]);
        let ll = cluster_loglik(&data, 0..n, &eta, &[-1.0, 1.0], &[0.5f64.ln(), 0.5f64.ln()], &mut MixWork::default(), None);
        assert!(ll.is_finite() && ll < -1000.0, "{ll}");
    }
}
