//! The average-information approximation of the Hessian of a covariance-parameter criterion
//! (Gilmour, Thompson & Cullis 1995; Johnson & Thompson 1995), shared by lmer's profiled
//! criterion and glmer's nAGQ = 0 criterion (whose penalised IRLS defines a working linear
//! mixed model). With V = ZΛΛᵀZᵀ + W⁻¹, P the projection of the penalised least-squares fit
//! and res = y − ŷ: vₖ = Vₖ P y = ZEₖû + ZΛEₖᵀ(ZᵀW res), and P vₖ = W(vₖ − ŷ(vₖ)), ŷ(vₖ) the
//! penalised least-squares fit of vₖ — one multi-column solve with the factor at hand.

use crate::terms::blocked::{ReTermData, TermLayout};
use crate::terms::re_products::{add_z_times, lambda_t_times, xt_times, zt_times};
use faer::Mat;

/// What the products need at the current θ.
pub struct AiInputs<'a> {
    pub terms: &'a [ReTermData],
    pub layouts: &'a [TermLayout],
    pub lambda: &'a [Vec<f64>],
    /// fixed-effects rows, row-major n × p
    pub x: &'a [f64],
    pub p: usize,
    /// the weights of the least-squares problem
    pub w: &'a [f64],
    /// the spherical random effects û (global order)
    pub u: &'a [f64],
    /// ZᵀW res by level (global order)
    pub g: &'a [f64],
}

/// vₖᵀPvₗ (nθ × nθ) and cₖ = vₖᵀW res (nθ); `solve` solves the penalised least-squares system
/// in place for columns [ΛᵀZᵀW vₖ; XᵀW vₖ] ((q + p) × nθ). With ŷ(vₗ) = [ZΛ X] solₗ the fit of
/// vₗ, Pvₗ = W(vₗ − ŷ(vₗ)) and so vₖᵀPvₗ = vₖᵀWvₗ − rhsₖᵀsolₗ: no fitted values are needed;
/// and vₖ = Z wₖ gives cₖ = wₖᵀ(ZᵀW res) from q-vectors.
pub fn products(inp: &AiInputs, solve: impl FnOnce(&mut Mat<f64>)) -> (Mat<f64>, Vec<f64>) {
    let (n, p, q) = (inp.w.len(), inp.p, inp.u.len());
    let nt: usize = inp.layouts.iter().map(|l| l.n_theta()).sum();
    let (mut v, mut wv) = (Mat::<f64>::zeros(n, nt), Mat::<f64>::zeros(n, nt));
    let mut rhs = Mat::<f64>::zeros(q + p, nt);
    let mut v_res = vec![0.0; nt];
    let mut k = 0;
    for (t, (l, lam)) in inp.layouts.iter().zip(inp.lambda).enumerate() {
        let d = l.d;
        for c in 0..d {
            for r in c..d {
                // vₖ = Z wₖ, wₖ = Eₖû + ΛEₖᵀ(ZᵀW res): nonzero on term t's levels only
                let mut wk = vec![0.0; q];
                for o in (l.start..l.start + d * l.n_levels).step_by(d) {
                    wk[o + r] += inp.u[o + c];
                    (c..d).for_each(|m| wk[o + m] += lam[m + c * d] * inp.g[o + r]);
                }
                v_res[k] = wk.iter().zip(inp.g).map(|(a, b)| a * b).sum();
                add_z_times(&inp.terms[t..=t], &inp.layouts[t..=t], &wk, v.col_as_slice_mut(k));
                let wvk = wv.col_as_slice_mut(k);
                wvk.iter_mut().zip(v.col_as_slice(k)).zip(inp.w).for_each(|((o, v), w)| *o = w * v);
                let wvk = wv.col_as_slice(k);
                let lzt = lambda_t_times(inp.layouts, inp.lambda, &zt_times(inp.terms, inp.layouts, q, wvk));
                let xt = xt_times(inp.x, p, wvk);
                let dst = rhs.col_as_slice_mut(k);
                dst[..q].copy_from_slice(&lzt);
                dst[q..].copy_from_slice(&xt);
                k += 1;
            }
        }
    }
    let mut sol = rhs.clone();
    solve(&mut sol);
    let vwv = v.transpose() * &wv;
    let fit = rhs.transpose() * &sol;
    let vpv = Mat::from_fn(nt, nt, |k, l| vwv[(k, l)] - 0.5 * (fit[(k, l)] + fit[(l, k)]));
    (vpv, v_res)
}

/// Add Σ_ab γ_ab ∂²Σ_ab/∂θₖ∂θₗ per term, γ = ∂d/∂Σ solved from the θ-gradient
/// (∂d/∂Λ_rc = Σ_ab γ_ab ∂Σ_ab/∂Λ_rc); terms with a (nearly) singular Λ are left out.
pub fn add_sigma_curvature(layouts: &[TermLayout], lambda: &[Vec<f64>], gradient: &[f64], h: &mut Mat<f64>) {
    use faer::prelude::Solve;
    for (l, lam) in layouts.iter().zip(lambda) {
        let d = l.d;
        let diag_max = (0..d).map(|i| lam[i + i * d].abs()).fold(0.0, f64::max);
        if (0..d).any(|i| lam[i + i * d].abs() <= 1e-6 * diag_max.max(1e-300)) {
            continue;
        }
        let pos: Vec<(usize, usize)> = (0..d).flat_map(|c| (c..d).map(move |r| (r, c))).collect();
        let m = pos.len();
        let jac = Mat::from_fn(m, m, |k, ab| {
            let ((r, c), (a, b)) = (pos[k], pos[ab]);
            let mut v = 0.0;
            if a == r {
                v += lam[b + c * d];
            }
            if b == r {
                v += lam[a + c * d];
            }
            v
        });
        let rhs = Mat::from_fn(m, 1, |k, _| gradient[l.theta_start + k]);
        let gamma = jac.partial_piv_lu().solve(&rhs);
        let gam = |a: usize, b: usize| {
            let (a, b) = (a.max(b), a.min(b));
            gamma[(pos.iter().position(|&x| x == (a, b)).unwrap_or(0), 0)]
        };
        for (k, &(r, c)) in pos.iter().enumerate() {
            for (kk, &(r2, c2)) in pos.iter().enumerate() {
                if c == c2 {
                    h[(l.theta_start + k, l.theta_start + kk)] += if r == r2 { 2.0 * gam(r, r) } else { gam(r, r2) };
                }
            }
        }
    }
}
