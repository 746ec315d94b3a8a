//! Derivatives of the GLMM criteria with any number of random-effects terms: the exact
//! gradient of the Laplace deviance (see `evaluate` for the formula: the selected
//! inverse of M_F gives the trace terms and the leverages z̃ᵢᵀM_F⁻¹z̃ᵢ, one solve with the
//! observed-weight system how the mode moves), the average-information Hessian of the nAGQ = 0
//! criterion, and the first-order motion of the mode.

use crate::error::Result;
use crate::glmm::sparse::model::{Parts, SparseGlmm};
use crate::terms::average_information::{AiInputs, add_sigma_curvature, products};
use crate::terms::blocked_factor::solve_columns;
use crate::terms::re_products::{add_x_times, add_z_times, lambda_t_times, lambda_times, xt_times, zt_times};
use faer::Mat;
use std::mem::take;

/// z̃ᵢᵀM_F⁻¹z̃ᵢ for every row, from the selected inverse in `parts.z` (positions from the
/// row plan of the cross-products).
fn leverages(parts: &Parts, out: &mut Vec<f64>) {
    let s = parts.s;
    let (k, nst) = (parts.terms.len(), s.n_sparse_terms);
    let n = parts.obs.len();
    let dmax = parts.terms.iter().map(|t| t.d).max().unwrap_or(1);
    let mut zt = vec![0.0; k * dmax];
    out.clear();
    out.resize(n, 0.0);
    for (i, o) in out.iter_mut().enumerate() {
        for t in 0..k {
            let (term, lam) = (&parts.terms[t], &parts.lambda[t]);
            let d = term.d;
            for c in 0..d {
                zt[t * dmax + c] = (c..d).map(|r| lam[r + c * d] * term.z[i * d + r]).sum();
            }
        }
        let ztv = |t: usize, r: usize| zt[t * dmax + r];
        let mut pos = parts.plan.positions(i).iter();
        let mut h = 0.0;
        for t in 0..nst {
            let d = parts.terms[t].d;
            let b = parts.plan.block(i, t, nst);
            let zd = parts.z.diag_block(s, b);
            h += (0..d).map(|c| (0..d).map(|r| ztv(t, r) * zd[r + c * d] * ztv(t, c)).sum::<f64>()).sum::<f64>();
            let nr = s.row_ptr[b + 1] - s.row_ptr[b];
            let zc = parts.z.below_block(s, b);
            for u in t + 1..k {
                let du = parts.terms[u].d;
                let p = *pos.next().unwrap_or(&0) as usize;
                h += 2.0 * (0..d).map(|c| (0..du).map(|r| ztv(u, r) * zc[p + r + c * nr] * ztv(t, c)).sum::<f64>()).sum::<f64>();
            }
        }
        for t in nst..k {
            let d = parts.terms[t].d;
            let ot = s.t_index(parts.plan.first(i, t, k));
            for u in t..k {
                let du = parts.terms[u].d;
                let ou = s.t_index(parts.plan.first(i, u, k));
                let v: f64 = (0..d).map(|c| {
                    let col = parts.z.t.col_as_slice(ot + c);
                    (0..du).map(|r| ztv(u, r) * col[ou + r] * ztv(t, c)).sum::<f64>()
                }).sum();
                h += if u == t { v } else { 2.0 * v };
            }
        }
        *o = h;
    }
}

/// Gradient of the Laplace deviance in (θ, β) (`joint` = false), or of the nAGQ = 0
/// criterion in θ (`joint` = true, β at the joint mode), at the mode left by `finish`.
pub fn gradient(model: &mut SparseGlmm, joint: bool) -> Result<Vec<f64>> {
    let traces = model.trace_sums_at_mode(joint)?;
    let observed = if model.canonical() { None } else { Some(model.factor_observed(joint)?) };
    let rows = &mut model.rows;
    let (mut lev, mut a, mut score, mut lin, mut e) = (take(&mut rows.lev), take(&mut rows.a), take(&mut rows.score), take(&mut rows.lin), take(&mut rows.e));
    let parts = model.parts(joint);
    let (q, p, n) = (parts.s.q, parts.p, parts.obs.len());
    let (obs, u, s) = (parts.obs, parts.u, parts.s);
    leverages(&parts, &mut lev);
    refill(&mut a, obs.iter().zip(&lev).map(|(t, l)| t.dw_fisher * l));
    refill(&mut score, obs.iter().map(|t| t.score));
    // ζ = M_O⁻¹ [ΛᵀZᵀa; Xᵀa]
    let lt_zta = lambda_t_times(&s.terms, parts.lambda, &zt_times(parts.terms, &s.terms, q, &a));
    let mut rhs = Mat::from_fn(q + if joint { p } else { 0 }, 1, |j, _| if j < q { lt_zta[j] } else { 0.0 });
    if joint {
        xt_times(parts.x, p, &a).iter().enumerate().for_each(|(j, v)| rhs[(q + j, 0)] = *v);
    }
    model.solve_with(joint, observed.as_ref().unwrap_or(parts.l), &mut rhs);
    let zeta: Vec<f64> = (0..rhs.nrows()).map(|j| rhs[(j, 0)]).collect();
    // e = −2s + a − W_O(ZΛζᵤ + Xζᵦ)
    refill(&mut lin, std::iter::repeat(0.0).take(n));
    if joint {
        add_x_times(parts.x, p, &zeta[q..], &mut lin);
    }
    add_z_times(parts.terms, &s.terms, &lambda_times(&s.terms, parts.lambda, &zeta[..q]), &mut lin);
    refill(&mut e, (0..n).map(|i| -2.0 * score[i] + a[i] - obs[i].w_obs * lin[i]));
    let (zte, zts) = (zt_times(parts.terms, &s.terms, q, &e), zt_times(parts.terms, &s.terms, q, &score));
    let mut grad = Vec::new();
    for (t, tr) in s.terms.iter().zip(&traces) {
        let d = t.d;
        for c in 0..d {
            for r in c..d {
                let mut g = 2.0 * tr[r + c * d];
                for level in 0..t.n_levels {
                    let o = t.start + level * d;
                    g += zte[o + r] * u[o + c] + zeta[o + c] * zts[o + r];
                }
                grad.push(g);
            }
        }
    }
    if !joint {
        grad.extend(xt_times(parts.x, p, &e));
    }
    (model.rows.lev, model.rows.a, model.rows.score, model.rows.lin, model.rows.e) = (lev, a, score, lin, e);
    Ok(grad)
}

/// `v` ← the values of `it`, in its own memory.
fn refill(v: &mut Vec<f64>, it: impl Iterator<Item = f64>) {
    v.clear();
    v.extend(it);
}

impl SparseGlmm {
    /// The average-information approximation of the Hessian of the nAGQ = 0 criterion in θ at
    /// the last joint mode: the working linear mixed model of the penalised IRLS (working
    /// response, Fisher weights, σ = 1) gives vₖ = VₖW(z − ŷ) = ZEₖû + ZΛEₖᵀZᵀs and
    /// H ≈ vₖᵀPvₗ + Σ_ab γ_ab ∂²Σ_ab/∂θₖ∂θₗ (see `lmm::LmmModel::average_information`).
    pub fn average_information_joint(&self, gradient: &[f64]) -> Mat<f64> {
        let s = &self.joint.s;
        // the working residual of the penalised IRLS is s/w_F, so ZᵀW res = Zᵀs
        let score: Vec<f64> = self.obs.iter().map(|t| t.score).collect();
        let w: Vec<f64> = self.obs.iter().map(|t| t.w_fisher).collect();
        let g = zt_times(&self.terms, &s.terms, s.q, &score);
        let inputs = AiInputs { terms: &self.terms, layouts: &s.terms, lambda: &self.lambda, x: &self.x, p: self.p, w: &w, u: &self.u, g: &g };
        let (mut h, _) = products(&inputs, |m| solve_columns(s, &self.joint.l, m));
        add_sigma_curvature(&s.terms, &self.lambda, gradient, &mut h);
        h
    }

    /// How the mode moves with (θ, β) at the last Laplace mode, to first order: du/dφⱼ solves
    /// M duⱼ = rⱼ with rᵦ = −ΛᵀZᵀW_O Xⱼ and r_θₖ = EₖᵀZᵀs − ΛᵀZᵀW_O ZEₖû (the derivative of
    /// ∇ᵤh = 0), M the Fisher-weight factor at hand. A starting point for the penalised IRLS
    /// at a nearby (θ, β); q × (nθ + p).
    pub fn mode_derivatives(&self) -> Mat<f64> {
        let s = &self.u_sys.s;
        let (n, p, q, nt) = (self.n, self.p, s.q, self.n_theta());
        let np = nt + p;
        let mut r = Mat::<f64>::zeros(q, np);
        let score: Vec<f64> = self.obs.iter().map(|t| t.score).collect();
        let zts = zt_times(&self.terms, &s.terms, q, &score);
        let pos: Vec<(usize, usize, usize)> = s.terms.iter().enumerate().flat_map(|(t, l)| (0..l.d).flat_map(move |c| (c..l.d).map(move |rr| (t, rr, c)))).collect();
        for (k, &(t, rr, c)) in pos.iter().enumerate() {
            let l = &s.terms[t];
            for level in 0..l.n_levels {
                let o = l.start + level * l.d;
                r[(o + c, k)] += zts[o + rr];
            }
        }
        let dmax = self.terms.iter().map(|t| t.d).max().unwrap_or(1);
        let mut zt = vec![0.0; self.terms.len() * dmax];
        let mut lin = vec![0.0; np];
        for i in 0..n {
            let wo = self.obs[i].w_obs;
            for (t, (term, lam)) in self.terms.iter().zip(&self.lambda).enumerate() {
                let d = term.d;
                for c in 0..d {
                    zt[t * dmax + c] = (c..d).map(|m| lam[m + c * d] * term.z[i * d + m]).sum();
                }
            }
            for (k, &(t, rr, c)) in pos.iter().enumerate() {
                let term = &self.terms[t];
                let o = s.terms[t].start + term.codes[i] as usize * term.d;
                lin[k] = term.z[i * term.d + rr] * self.u[o + c];
            }
            lin[nt..].copy_from_slice(&self.x[i * p..(i + 1) * p]);
            for (t, term) in self.terms.iter().enumerate() {
                let o = s.terms[t].start + term.codes[i] as usize * term.d;
                for c in 0..term.d {
                    let a = wo * zt[t * dmax + c];
                    (0..np).for_each(|k| r[(o + c, k)] -= a * lin[k]);
                }
            }
        }
        solve_columns(s, &self.u_sys.l, &mut r);
        r
    }

}
