//! One cluster's contribution to the Laplace / adaptive Gauss–Hermite approximation of the
//! marginal deviance, and its exact gradient (Liu & Pierce 1994; Pinheiro & Bates 1995).
//!
//! With û the conditional mode and H = LLᵀ the Fisher curvature of h at û (lme4's scaling),
//! the nodes are vₖ = û + L⁻ᵀzₖ and
//!
//!   −2 log Lᵢ ≈ log det H − 2 log Σₖ wₖ exp(−h(vₖ) + ½‖zₖ‖²).
//!
//! One node at 0 gives the Laplace approximation 2h(û) + log det H.
//!
//! Gradient. Every dependence on the parameters φ ∈ (θ, β) through û and L collapses onto
//! ⟨P, dH/dφ⟩ for one symmetric P = H⁻¹ − 2Q (Q from the derivative of the Cholesky factor,
//! dL = L·Φ(L⁻¹ dH L⁻ᵀ)), and the implicit derivative of the mode onto one solve
//! ζ = H_obs⁻¹(c + 2ḡ) with cₘ = ⟨P, ∂H/∂uₘ⟩ and ḡ the weighted mean of ∇h at the nodes.
//! With sⱼ = aⱼᵀPaⱼ, rⱼ = w′ⱼsⱼ − w_obs,ⱼ(aⱼ·ζ) and ḡⱼ the weighted mean score at the nodes:
//!
//!   ∂/∂β = Xᵀ(r − 2ḡ_obs)
//!   ∂/∂Λ = (Zᵀr)ûᵀ + 2·MΛP + (Zᵀg(û))ζᵀ − 2·Σₖ ωₖ(Zᵀg(vₖ))vₖᵀ,  M = ZᵀWZ,
//!
//! and ∂/∂θ picks θ's entries out of ∂/∂Λ.

use crate::error::{Error, Result};
use crate::family::{Family, Link};
use crate::glmm::pirls::{Workspace, conditional_mode};
use crate::numerics::ghq::ProductRule;
use crate::numerics::linalg::{SmallChol, matmul, quad_form, syr_lower, fill_upper};
use crate::terms::cluster::Cluster;

/// Quadrature accumulators (weights ωₖ ∝ wₖ exp(tₖ), kept relative to the running maximum).
pub struct Accum {
    /// per-row weighted mean score at the nodes
    gbar: Vec<f64>,
    /// score at the current node
    gk: Vec<f64>,
    v: Vec<f64>,
    zg: Vec<f64>,
    zg_bar: Vec<f64>,
    vbar: Vec<f64>,
    zv: Vec<f64>,
    zq: Vec<f64>,
    gv: Vec<f64>,
    s: Vec<f64>,
    zeta: Vec<f64>,
    zr: Vec<f64>,
    zg0: Vec<f64>,
    m: Vec<f64>,
    p_mat: Vec<f64>,
    mat: [Vec<f64>; 4],
}

impl Accum {
    pub fn new(n_max: usize, d: usize) -> Self {
        let dd = d * d;
        Accum {
            gbar: vec![0.0; n_max],
            gk: vec![0.0; n_max],
            v: vec![0.0; d],
            zg: vec![0.0; d],
            zg_bar: vec![0.0; d],
            vbar: vec![0.0; d],
            zv: vec![0.0; dd],
            zq: vec![0.0; dd],
            gv: vec![0.0; dd],
            s: vec![0.0; n_max],
            zeta: vec![0.0; d],
            zr: vec![0.0; d],
            zg0: vec![0.0; d],
            m: vec![0.0; dd],
            p_mat: vec![0.0; dd],
            mat: [vec![0.0; dd], vec![0.0; dd], vec![0.0; dd], vec![0.0; dd]],
        }
    }

    fn scale(&mut self, n: usize, f: f64) {
        self.gbar[..n].iter_mut().for_each(|x| *x *= f);
        for v in [&mut self.zg_bar, &mut self.vbar, &mut self.zv, &mut self.zq, &mut self.gv] {
            v.iter_mut().for_each(|x| *x *= f);
        }
    }
}

/// Where a cluster's gradient goes: ∂/∂β (length p) and ∂/∂Λ (d × d, column-major).
pub struct GradOut<'a> {
    pub beta: &'a mut [f64],
    pub lambda: &'a mut [f64],
}

/// −2 log Lᵢ (without the likelihood constant) for one cluster; `ws.prepare` must have been
/// called. Adds fᵢ·gradient to `grad` when given.
#[allow(clippy::too_many_arguments)]
pub fn cluster_deviance(
    c: &Cluster,
    id: usize,
    fam: Family,
    link: Link,
    lambda: &[f64],
    rule: &ProductRule,
    ws: &mut Workspace,
    acc: &mut Accum,
    u: &mut [f64],
    grad: Option<GradOut>,
) -> Result<f64> {
    let h0 = conditional_mode(c, id, fam, link, ws, u)?;
    let logdet = ws.chol_fisher.logdet();
    let want_grad = grad.is_some();
    let dev = if rule.len() == 1 {
        if want_grad {
            laplace_accumulators(c, ws, acc, u);
        }
        2.0 * h0 + logdet
    } else {
        logdet - 2.0 * sum_nodes(c, id, fam, link, rule, ws, acc, u, want_grad)?
    };
    if let Some(out) = grad {
        gradient(c, lambda, ws, acc, u, rule.len() == 1, None, out);
    }
    Ok(dev)
}

/// Laplace: one node at û with weight 1.
pub fn laplace_accumulators(c: &Cluster, ws: &Workspace, acc: &mut Accum, u: &[f64]) {
    let d = ws.d;
    acc.zg_bar.fill(0.0);
    for j in 0..c.len() {
        let g = ws.terms[j].score;
        acc.gbar[j] = g;
        for r in 0..d {
            acc.zg_bar[r] += g * c.z[j * d + r];
        }
    }
    acc.vbar.copy_from_slice(u);
    acc.zv.fill(0.0);
    acc.zq.fill(0.0);
    for col in 0..d {
        for r in 0..d {
            acc.gv[r + col * d] = acc.zg_bar[r] * u[col];
        }
    }
}

/// log Σₖ wₖ exp(−h(vₖ) + ½‖zₖ‖²), filling the normalised accumulators when asked.
#[allow(clippy::too_many_arguments)]
fn sum_nodes(c: &Cluster, id: usize, fam: Family, link: Link, rule: &ProductRule, ws: &Workspace, acc: &mut Accum, u: &[f64], want_grad: bool) -> Result<f64> {
    let (n, d) = (c.len(), ws.d);
    let (mut t_max, mut total) = (f64::NEG_INFINITY, 0.0);
    if want_grad {
        acc.scale(n, 0.0);
    }
    for k in 0..rule.len() {
        let zk = rule.node(k);
        acc.v.copy_from_slice(zk);
        ws.chol_fisher.solve_lt(&mut acc.v);
        acc.v.iter_mut().zip(u).for_each(|(v, u)| *v += u);
        let v = &acc.v;
        let h = 0.5 * v.iter().map(|v| v * v).sum::<f64>() - fam.loglik_score_block(link, c.y, c.m, |j| ws.eta(j, v), &mut acc.gk[..n]);
        let t = -h + rule.half_sq[k] + rule.log_w[k];
        if t.is_nan() {
            return Err(Error::NotPositiveDefinite { what: "the quadrature sum", block: Some(id) });
        }
        if t == f64::NEG_INFINITY {
            continue;
        }
        if t > t_max {
            let f = (t_max - t).exp();
            total *= f;
            if want_grad {
                acc.scale(n, f);
            }
            t_max = t;
        }
        let w = (t - t_max).exp();
        total += w;
        if want_grad {
            accumulate_node(c, acc, zk, w, n, d);
        }
    }
    if want_grad {
        acc.scale(n, 1.0 / total);
    }
    Ok(t_max + total.ln())
}

/// Add node k (weight w, values in acc.v and acc.gk) to the gradient accumulators.
fn accumulate_node(c: &Cluster, acc: &mut Accum, zk: &[f64], w: f64, n: usize, d: usize) {
    acc.zg.fill(0.0);
    for j in 0..n {
        let g = acc.gk[j];
        acc.gbar[j] += w * g;
        for r in 0..d {
            acc.zg[r] += g * c.z[j * d + r];
        }
    }
    for r in 0..d {
        acc.zg_bar[r] += w * acc.zg[r];
        acc.vbar[r] += w * acc.v[r];
    }
    for col in 0..d {
        for r in 0..d {
            acc.zv[r + col * d] += w * zk[r] * acc.v[col];
            acc.zq[r + col * d] += w * zk[r] * acc.zg[col];
            acc.gv[r + col * d] += w * acc.zg[r] * acc.v[col];
        }
    }
}

/// The gradient of −2 log Lᵢ (module docs), added with the cluster's frequency.
///
/// `beta_zeta` is given when β is itself at a joint mode with u (lme4's nAGQ = 0): ζ then has
/// a β block, which enters the cluster's ζ through −B·ζ_β and rⱼ through −w_obs,ⱼ·xⱼ·ζ_β
/// (see `nagq0`).
#[allow(clippy::too_many_arguments)]
pub fn gradient(c: &Cluster, lambda: &[f64], ws: &mut Workspace, acc: &mut Accum, u: &[f64], laplace: bool, beta_zeta: Option<&[f64]>, out: GradOut) {
    let (n, d, p) = (c.len(), c.d, c.p);
    shape_matrix(lambda, ws, acc, laplace);
    let x_zeta = |j: usize| beta_zeta.map_or(0.0, |zb| c.x[j * p..(j + 1) * p].iter().zip(zb).map(|(x, z)| x * z).sum());
    // ḡ = v̄ − Λᵀ·(Zᵀḡ_obs), then ζ = H_obs⁻¹(c + 2ḡ − B·ζ_β)
    for col in 0..d {
        acc.zeta[col] = 2.0 * (acc.vbar[col] - (col..d).map(|r| lambda[r + col * d] * acc.zg_bar[r]).sum::<f64>());
    }
    for j in 0..n {
        let aj = &ws.a[j * d..(j + 1) * d];
        acc.s[j] = quad_form(&acc.p_mat, d, aj);
        let cj = ws.terms[j].dw_fisher * acc.s[j] - ws.terms[j].w_obs * x_zeta(j);
        acc.zeta.iter_mut().zip(aj).for_each(|(z, a)| *z += cj * a);
    }
    ws.chol_obs.solve(&mut acc.zeta);
    acc.zr.fill(0.0);
    acc.zg0.fill(0.0);
    acc.m.fill(0.0);
    for j in 0..n {
        let t = ws.terms[j];
        let aj = &ws.a[j * d..(j + 1) * d];
        let zj = &c.z[j * d..(j + 1) * d];
        let r = t.dw_fisher * acc.s[j] - t.w_obs * (aj.iter().zip(&acc.zeta).map(|(a, z)| a * z).sum::<f64>() + x_zeta(j));
        let rb = c.freq * (r - 2.0 * acc.gbar[j]);
        for (gb, x) in out.beta.iter_mut().zip(&c.x[j * p..(j + 1) * p]) {
            *gb += rb * x;
        }
        for k in 0..d {
            acc.zr[k] += r * zj[k];
            acc.zg0[k] += t.score * zj[k];
        }
        syr_lower(&mut acc.m, d, t.w_fisher, zj);
    }
    fill_upper(&mut acc.m, d);
    let [ml, mlp, ..] = &mut acc.mat;
    matmul(&acc.m, lambda, d, ml);
    matmul(ml, &acc.p_mat, d, mlp);
    for col in 0..d {
        for r in 0..d {
            let g = acc.zr[r] * u[col] + 2.0 * mlp[r + col * d] + acc.zg0[r] * acc.zeta[col] - 2.0 * acc.gv[r + col * d];
            out.lambda[r + col * d] += c.freq * g;
        }
    }
}

/// P = H⁻¹ − 2Q into `acc.p_mat`: the matrix that carries every derivative of H (module docs).
fn shape_matrix(lambda: &[f64], ws: &Workspace, acc: &mut Accum, laplace: bool) {
    let d = ws.d;
    let chol = &ws.chol_fisher;
    chol.inverse_into(&mut acc.p_mat);
    if laplace {
        return;
    }
    let [e, ltc, k_mat, tmp] = &mut acc.mat;
    // E = Σ ωₖ zₖ ∇h(vₖ)ᵀ = zv − zq·Λ
    matmul(&acc.zq, lambda, d, e);
    e.iter_mut().zip(&acc.zv).for_each(|(e, zv)| *e = zv - *e);
    // C = L⁻ᵀ E L⁻ᵀ (in e)
    sandwich(chol, e, tmp, d, true);
    // K = ½·sym(lower(LᵀC)); Q = L⁻ᵀ K L⁻¹
    let l = chol.l();
    for col in 0..d {
        for r in 0..d {
            ltc[r + col * d] = (0..d).map(|k| l[k + r * d] * e[k + col * d]).sum();
        }
    }
    for col in 0..d {
        for r in 0..d {
            k_mat[r + col * d] = 0.5 * ltc[r.max(col) + r.min(col) * d];
        }
    }
    sandwich(chol, k_mat, tmp, d, false);
    acc.p_mat.iter_mut().zip(k_mat.iter()).for_each(|(p, q)| *p -= 2.0 * q);
}

/// a ← L⁻ᵀ·a·L⁻ᵀ (`right_transposed`) or L⁻ᵀ·a·L⁻¹, using `tmp` as scratch.
fn sandwich(chol: &SmallChol, a: &mut [f64], tmp: &mut [f64], d: usize, right_transposed: bool) {
    for col in 0..d {
        chol.solve_lt(&mut a[col * d..(col + 1) * d]);
    }
    // (a · R)ᵀ = Rᵀ · aᵀ, with Rᵀ = L⁻¹ or L⁻ᵀ applied to the columns of aᵀ
    transpose(a, tmp, d);
    for col in 0..d {
        let v = &mut tmp[col * d..(col + 1) * d];
        if right_transposed { chol.solve_l(v) } else { chol.solve_lt(v) }
    }
    transpose(tmp, a, d);
}

fn transpose(a: &[f64], out: &mut [f64], d: usize) {
    for col in 0..d {
        for r in 0..d {
            out[col + r * d] = a[r + col * d];
        }
    }
}
