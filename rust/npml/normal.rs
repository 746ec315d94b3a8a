//! The same ordinal model with a normal random effect b = L u, u ~ N(0, I_d), integrated by
//! adaptive Gauss–Hermite quadrature (Liu & Pierce 1994; Pinheiro & Bates 1995):
//!
//!   ℓ_i = log ∫ f_i(L u) φ(u) du ≈ log Σ_k w_k f_i(L u_k) φ(u_k)/φ(z_k) |C_i|,
//!   u_k = û_i + C_i z_k,
//!
//! where û_i is the mode of log f_i(Lu) − ½‖u‖² and C_i = R_i⁻ᵀ with R_iR_iᵀ the negative
//! Hessian there. With the adaptation (û_i, C_i) held fixed, the quadrature is a mixture over
//! cluster-specific points b_k = L u_k, so the NPML cluster kernel gives its exact gradient;
//! the optimiser alternates re-adaptation and quasi-Newton ascent until re-adapting no longer
//! moves the optimum.

use crate::error::{Error, Result};
use crate::npml::data::OrdinalData;
use crate::npml::fit::{Optimum, fixed_start, optimise_with};
use crate::npml::lik::{MixGrad, MixWork, cluster_loglik, row_terms};
use crate::npml::model::NPML_PARALLEL_MIN_WORK;
use crate::npml::se::{SeKind, invert_spd};
use crate::numerics::ghq::ProductRule;
use crate::numerics::linalg::{SmallChol, syr_lower};
use crate::numerics::optim::fd_hessian_central;
use crate::numerics::par::map_chunks;
use faer::Mat;

const MAX_ADAPT: usize = 30;

/// The normal-random-effects model: data and quadrature rule.
#[derive(Clone)]
pub struct NormalModel {
    pub data: OrdinalData,
    pub rule: ProductRule,
}

/// A fitted normal model.
pub struct NormalFit {
    pub alpha: Vec<f64>,
    pub beta: Vec<f64>,
    /// lower Cholesky factor of Σ, column-major d × d
    pub chol: Vec<f64>,
    pub loglik: f64,
    pub max_grad: f64,
    pub converged: bool,
    pub iterations: usize,
    pub evaluations: usize,
    pub message: String,
    /// posterior means of b, m × d row-major
    pub eb: Vec<f64>,
    /// covariance of θ = (α, β, vech L)
    pub vcov: Mat<f64>,
    pub se_alpha: Vec<f64>,
    pub se_beta: Vec<f64>,
    pub se_var: Vec<f64>,
    pub cluster_loglik: Vec<f64>,
}

impl NormalModel {
    pub fn new(data: OrdinalData, nagq: usize) -> Self {
        let d = data.d;
        NormalModel { data, rule: ProductRule::new(nagq, d) }
    }

    /// Whether the chunks of clusters are worth spreading over threads.
    pub fn parallel(&self) -> bool {
        self.data.n * self.rule.len() * self.data.q >= NPML_PARALLEL_MIN_WORK
    }

    fn n_fixed(&self) -> usize {
        self.data.q + self.data.n_beta()
    }

    /// Per-cluster adaptation: û (d) then C (d × d, column-major).
    fn stride(&self) -> usize {
        self.data.d + self.data.d * self.data.d
    }

    /// L (column-major, lower) from the vech part of θ.
    fn chol(&self, theta: &[f64]) -> Vec<f64> {
        let d = self.data.d;
        let mut l = vec![0.0; d * d];
        let mut it = theta[self.n_fixed()..].iter();
        for c in 0..d {
            for r in c..d {
                l[r + c * d] = *it.next().expect("theta has d(d+1)/2 covariance parameters");
            }
        }
        l
    }

    /// Mode and curvature of log f_i(Lu) − ½‖u‖² (Newton with step halving), stored as (û, C).
    fn adapt(&self, rows: std::ops::Range<usize>, eta: &[f64], l: &[f64], out: &mut [f64]) {
        let (d, q) = (self.data.d, self.data.q);
        let mut r = vec![0.0; q];
        let mut e = vec![0.0; q];
        let eval = |u: &[f64], r: &mut [f64], e: &mut [f64], grad: &mut [f64], info: &mut [f64]| -> f64 {
            let b: Vec<f64> = (0..d).map(|i| (0..d).map(|j| l[i + j * d] * u[j]).sum()).collect();
            let mut h = -0.5 * u.iter().map(|v| v * v).sum::<f64>();
            let mut zs = vec![0.0; d];
            grad.fill(0.0);
            info.fill(0.0);
            for row in rows.clone() {
                let z = &self.data.z[row * d..(row + 1) * d];
                let shift: f64 = z.iter().zip(&b).map(|(z, b)| z * b).sum();
                e.iter_mut().zip(&eta[row * q..(row + 1) * q]).for_each(|(e, f)| *e = f + shift);
                let t = row_terms(self.data.link, e, self.data.y[row] as usize, r);
                h += t.logp;
                // Lᵀz: the row's design in u
                zs.iter_mut().enumerate().for_each(|(j, v)| *v = (j..d).map(|i| l[i + j * d] * z[i]).sum());
                grad.iter_mut().zip(&zs).for_each(|(g, z)| *g += t.ds * z);
                syr_lower(info, d, -t.ds2, &zs);
            }
            grad.iter_mut().zip(u).for_each(|(g, u)| *g -= u);
            (0..d).for_each(|i| info[i + i * d] += 1.0);
            h
        };
        let mut u = out[..d].to_vec();
        let (mut grad, mut info) = (vec![0.0; d], vec![0.0; d * d]);
        let mut chol = SmallChol::new(d);
        let mut h = eval(&u, &mut r, &mut e, &mut grad, &mut info);
        for _ in 0..50 {
            if !chol.factor(&info) {
                break;
            }
            let mut step = grad.clone();
            chol.solve(&mut step);
            let mut t = 1.0;
            let mut moved = false;
            for _ in 0..30 {
                let trial: Vec<f64> = u.iter().zip(&step).map(|(u, s)| u + t * s).collect();
                let (mut g2, mut i2) = (vec![0.0; d], vec![0.0; d * d]);
                let h2 = eval(&trial, &mut r, &mut e, &mut g2, &mut i2);
                if h2.is_finite() && h2 >= h - 1e-12 {
                    (u, h, grad, info, moved) = (trial, h2, g2, i2, true);
                    break;
                }
                t *= 0.5;
            }
            if !moved || step.iter().map(|s| (t * s).abs()).fold(0.0, f64::max) < 1e-10 {
                break;
            }
        }
        chol.factor(&info);
        // C = R⁻ᵀ: columns solve Rᵀ c_j = e_j
        out[..d].copy_from_slice(&u);
        let c = &mut out[d..];
        c.fill(0.0);
        for j in 0..d {
            let col = &mut c[j * d..(j + 1) * d];
            col[j] = 1.0;
            chol.solve_lt(col);
        }
    }

    /// −ℓ and its gradient in θ at fixed (or, with `readapt`, refreshed) adaptation; the EB
    /// means go to `eb` when given.
    fn eval(&self, theta: &[f64], adapt: &mut [f64], readapt: bool, per: Option<&mut Vec<f64>>, scores: Option<&mut Vec<f64>>) -> Result<(f64, Vec<f64>)> {
        let data = &self.data;
        let (q, nb, d, nf) = (data.q, data.n_beta(), data.d, self.n_fixed());
        let l = self.chol(theta);
        let eta = data.eta_fixed(&theta[..q], &theta[q..nf]);
        let nk = self.rule.len();
        let stride = self.stride();
        let np = theta.len();
        let parallel = self.parallel();
        let want_scores = scores.is_some();
        let init = || (MixWork::default(), MixGrad::zeros(q, nb, nk, d), vec![0.0; nk * d], vec![0.0; nk]);
        let parts = map_chunks(data.n_clusters(), adapt, stride, parallel, init, |(ws, g, pts, lp), range, st| {
            let mut total = 0.0;
            let mut grad = vec![0.0; np];
            let mut per_cluster = Vec::with_capacity(range.len() * (1 + d + if want_scores { np } else { 0 }));
            for (i, a) in range.zip(st.chunks_exact_mut(stride)) {
                let rows = data.starts[i]..data.starts[i + 1];
                if readapt {
                    self.adapt(rows.clone(), &eta, &l, a);
                }
                let (uhat, c) = a.split_at(d);
                let logdet: f64 = (0..d).map(|j| c[j + j * d].abs().ln()).sum();
                let mut us = vec![0.0; nk * d];
                for k in 0..nk {
                    let z = self.rule.node(k);
                    let u = &mut us[k * d..(k + 1) * d];
                    for r in 0..d {
                        u[r] = uhat[r] + (0..d).map(|s| c[r + s * d] * z[s]).sum::<f64>();
                    }
                    for r in 0..d {
                        pts[k * d + r] = (0..d).map(|s| l[r + s * d] * u[s]).sum();
                    }
                    lp[k] = self.rule.log_w[k] + self.rule.half_sq[k] - 0.5 * u.iter().map(|v| v * v).sum::<f64>() + logdet;
                }
                g.fill_zero();
                let li = cluster_loglik(data, rows, &eta, pts, lp, ws, Some(&mut *g));
                total += li;
                let mut gi = vec![0.0; np];
                gi[..q].copy_from_slice(&g.alpha);
                gi[q..nf].copy_from_slice(&g.beta);
                let mut at = nf;
                for cc in 0..d {
                    for r in cc..d {
                        gi[at] = (0..nk).map(|k| g.points[k * d + r] * us[k * d + cc]).sum();
                        at += 1;
                    }
                }
                grad.iter_mut().zip(&gi).for_each(|(a, b)| *a += b);
                per_cluster.push(li);
                per_cluster.extend((0..d).map(|r| (0..nk).map(|k| ws.post[k] * pts[k * d + r]).sum::<f64>()));
                if want_scores {
                    per_cluster.extend_from_slice(&gi);
                }
            }
            Ok((total, grad, per_cluster))
        })?;
        let mut ll = 0.0;
        let mut grad = vec![0.0; np];
        let (mut per_out, mut score_out) = (per, scores);
        for (t, g, pc) in parts {
            ll += t;
            grad.iter_mut().zip(&g).for_each(|(a, b)| *a += b);
            let w = 1 + d + if want_scores { np } else { 0 };
            for c in pc.chunks_exact(w) {
                if let Some(p) = per_out.as_deref_mut() {
                    p.extend_from_slice(&c[..1 + d]);
                }
                if let Some(s) = score_out.as_deref_mut() {
                    s.extend_from_slice(&c[1 + d..]);
                }
            }
        }
        Ok((-ll, grad.into_iter().map(|v| -v).collect()))
    }
}

/// Fit the normal-random-effects model.
pub fn fit_normal(model: &NormalModel, max_iter: usize, se: SeKind) -> Result<NormalFit> {
    let data = &model.data;
    let d = data.d;
    let (alpha, beta) = fixed_start(data, max_iter.max(50))?;
    let mut theta = [alpha, beta].concat();
    for c in 0..d {
        for r in c..d {
            theta.push(if r == c { 1.0 } else { 0.0 });
        }
    }
    let mut adapt = vec![0.0; data.n_clusters() * model.stride()];
    let (mut iterations, mut evaluations, mut o) = (0usize, 0usize, None::<Optimum>);
    for pass in 0..MAX_ADAPT {
        model.eval(&theta, &mut adapt, true, None, None)?;
        let polish = pass > 0;
        let r = optimise_with(&mut |t: &[f64]| model.eval(t, &mut adapt.clone(), false, None, None), &theta, max_iter.saturating_sub(iterations).max(1), polish, None)?;
        iterations += r.iterations;
        evaluations += r.evaluations;
        let moved = r.theta.iter().zip(&theta).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        theta = r.theta.clone();
        let done = r.converged && moved < 1e-6;
        o = Some(r);
        if done || iterations >= max_iter {
            break;
        }
    }
    let o = o.ok_or_else(|| Error::bad_input("no optimisation pass ran"))?;
    model.eval(&theta, &mut adapt, true, None, None)?;
    let (mut per, mut scores) = (Vec::new(), Vec::new());
    let (f, g) = model.eval(&theta, &mut adapt, false, Some(&mut per), Some(&mut scores))?;
    let np = theta.len();
    let info = match se {
        SeKind::Opg => Mat::from_fn(np, np, |r, c| scores.chunks_exact(np).map(|s| s[r] * s[c]).sum()),
        SeKind::Hessian => fd_hessian_central(&mut |t: &[f64]| model.eval(t, &mut adapt.clone(), false, None, None), &theta)?,
    };
    let vcov = invert_spd(&info);
    let max_grad = g.iter().fold(0.0f64, |m, v| if v.is_nan() { f64::NAN } else { m.max(v.abs()) });
    let converged = o.converged && crate::npml::fit::small(&g, 1e-5) && f.is_finite();
    finish_normal(model, theta, f, max_grad, converged, iterations, evaluations, per, vcov, max_iter)
}

#[allow(clippy::too_many_arguments)]
fn finish_normal(model: &NormalModel, theta: Vec<f64>, f: f64, max_grad: f64, converged: bool, iterations: usize, evaluations: usize, per: Vec<f64>, vcov: Mat<f64>, max_iter: usize) -> Result<NormalFit> {
    let (q, d, nf) = (model.data.q, model.data.d, model.n_fixed());
    let l = model.chol(&theta);
    let sd = |i: usize| vcov[(i, i)].sqrt();
    // Σ_ee = Σ_s L_es²: gradient 2 L_es on the vech entries of row e
    let vech: Vec<(usize, usize)> = (0..d).flat_map(|c| (c..d).map(move |r| (r, c))).collect();
    let se_var = (0..d)
        .map(|e| {
            let grad: Vec<(usize, f64)> = vech.iter().enumerate().filter(|(_, (r, _))| *r == e).map(|(i, (r, c))| (nf + i, 2.0 * l[r + c * d])).collect();
            grad.iter().map(|(i, a)| grad.iter().map(|(j, b)| a * vcov[(*i, *j)] * b).sum::<f64>()).sum::<f64>().sqrt()
        })
        .collect();
    let stride = 1 + d;
    let message = if converged { "converged".into() } else if iterations >= max_iter { format!("iteration limit ({max_iter}) reached") } else { format!("the optimiser stopped without meeting the convergence test; max |gradient| {max_grad:.3e}") };
    Ok(NormalFit {
        alpha: theta[..q].to_vec(),
        beta: theta[q..nf].to_vec(),
        chol: l,
        loglik: -f,
        max_grad,
        converged,
        iterations,
        evaluations,
        message,
        eb: per.chunks_exact(stride).flat_map(|c| c[1..].to_vec()).collect(),
        se_alpha: (0..q).map(sd).collect(),
        se_beta: (q..nf).map(sd).collect(),
        se_var,
        vcov,
        cluster_loglik: per.chunks_exact(stride).map(|c| c[0]).collect(),
    })
}
