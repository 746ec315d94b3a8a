//! The linear mixed model's profiled deviance (Bates, Mächler, Bolker & Walker 2015, §3):
//! `objective(θ)` = `set_theta` → `update_l` → `profiled_deviance`, and its exact gradient.
//!
//! With b = Λθu, u ~ N(0, σ²I), y | u ~ N(Xβ + ZΛu, σ²W⁻¹), the penalised weighted residual
//! sum of squares r²(θ) = min over (u, β) of ‖W½(y − Xβ − ZΛu)‖² + ‖u‖² is found from the
//! Cholesky factor of C = [ΛᵀZᵀWZΛ + I, ΛᵀZᵀWX; XᵀWZΛ, XᵀWX] (y as a last column), and
//!
//!   ML:   d(θ)  = log|M| + n·(1 + log(2πr²/n)) − Σ log wᵢ,                 M = ΛᵀZᵀWZΛ + I
//!   REML: dR(θ) = log|M| + log|RX|² + (n−p)·(1 + log(2πr²/(n−p))) − Σ log wᵢ.
//!
//! The gradient: ∂ log|M| / ∂θₖ = tr(M⁻¹ ∂M/∂θₖ) (and tr(C⁻¹ ∂C/∂θₖ) for log|M| + log|RX|²)
//! from the selected inverse, and ∂r²/∂θₖ = −2 (ZᵀW res)ᵀ Eₖ u by the envelope theorem (Eₖ the
//! pattern of θₖ in Λ), where res = y − Xβ̂ − ZΛû.

use crate::error::{Error, Result};
use crate::terms::average_information::{AiInputs, add_sigma_curvature, products};
use crate::terms::blocked::{ReTermData, Structure};
use crate::terms::blocked_factor::{BlockValues, RowPlan, assemble, factor, logdets, solve, solve_columns};
use crate::terms::re_products::{add_x_times, add_z_times, lambda_times, zt_times};
use crate::terms::selected_inverse::{selected_inverse, trace_sums};
use faer::Mat;

/// A linear mixed model with its data, the symbolic factorisation and the workspaces.
pub struct LmmModel {
    pub n: usize,
    pub p: usize,
    pub y: Vec<f64>,
    pub w: Vec<f64>,
    /// fixed-effects rows, row-major n × p
    pub x: Vec<f64>,
    pub terms: Vec<ReTermData>,
    pub structure: Structure,
    pub reml: bool,
    /// Σ log wᵢ
    pub sum_log_w: f64,
    a: BlockValues,
    l: BlockValues,
    z: BlockValues,
    lambda: Vec<Vec<f64>>,
    state: State,
}

/// What `set_theta` leaves behind.
#[derive(Clone, Debug, Default)]
pub struct State {
    pub theta: Vec<f64>,
    /// spherical random effects u (global order), then β
    pub solution: Vec<f64>,
    /// penalised weighted residual sum of squares r²
    pub pwrss: f64,
    /// log|M|
    pub logdet_m: f64,
    /// log|RX|²
    pub logdet_x: f64,
    /// Xβ + ZΛu
    pub fitted: Vec<f64>,
    /// ZᵀW(y − Xβ − ZΛu) by level (global order)
    pub zt_w_res: Vec<f64>,
}

impl LmmModel {
    /// Set up the model: `x` column-major n × p, terms in lme4's order.
    pub fn new(y: &[f64], w: &[f64], x_colmajor: &[f64], p: usize, terms: Vec<ReTermData>, reml: bool) -> Result<Self> {
        let n = y.len();
        if w.len() != n || x_colmajor.len() != n * p {
            return Err(Error::bad_input("y, weights and X differ in their number of rows"));
        }
        if let Some(i) = w.iter().position(|&v| !(v > 0.0 && v.is_finite())) {
            return Err(Error::bad_input(format!("weights must be positive and finite; row {i} has {}", w[i])));
        }
        if let Some(i) = (0..n).find(|&i| !y[i].is_finite()) {
            return Err(Error::bad_input(format!("the response is not finite in row {i}")));
        }
        let structure = Structure::new(&terms, n, p + 1)?;
        let x: Vec<f64> = (0..n).flat_map(|i| (0..p).map(move |j| x_colmajor[i + j * n])).collect();
        let extras: Vec<f64> = (0..n).flat_map(|i| x[i * p..(i + 1) * p].iter().copied().chain(std::iter::once(y[i]))).collect();
        let plan = RowPlan::new(&structure, &terms)?;
        let mut a = BlockValues::zeros(&structure);
        a.fill_cross_products(&structure, &plan, &terms, w, &extras, None);
        let lambda = structure.terms.iter().map(|t| vec![0.0; t.d * t.d]).collect();
        let sum_log_w = w.iter().map(|v| v.ln()).sum();
        Ok(LmmModel {
            n,
            p,
            y: y.to_vec(),
            w: w.to_vec(),
            x,
            l: BlockValues::zeros(&structure),
            z: BlockValues::zeros(&structure),
            a,
            terms,
            structure,
            reml,
            sum_log_w,
            lambda,
            state: State::default(),
        })
    }

    /// Number of covariance parameters.
    pub fn n_theta(&self) -> usize {
        self.structure.n_theta()
    }

    /// Lower bounds of θ: 0 for the diagonal of each term's Λ.
    pub fn theta_lower(&self) -> Vec<f64> {
        self.structure.theta_lower()
    }

    /// lme4's start: every Λ the identity.
    pub fn theta_start(&self) -> Vec<f64> {
        self.structure.theta_start()
    }

    /// The factor L at the last θ.
    pub fn factor_values(&self) -> &BlockValues {
        &self.l
    }

    /// The cross-products A.
    pub fn cross_products(&self) -> &BlockValues {
        &self.a
    }

    /// The state after the last `set_theta`.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// Λ of each term (column-major d × d) at the last θ.
    pub fn lambda(&self) -> &[Vec<f64>] {
        &self.lambda
    }

    /// n − p for REML, n for ML.
    pub fn n_eff(&self) -> f64 {
        if self.reml { (self.n - self.p) as f64 } else { self.n as f64 }
    }

    /// Factor C(θ), solve for (u, β), and evaluate r² and the log-determinants.
    pub fn set_theta(&mut self, theta: &[f64]) -> Result<()> {
        self.lambda = self.structure.lambda(theta)?;
        self.update_l()?;
        let solution = solve(&self.structure, &self.l);
        let (logdet_m, logdet_x) = logdets(&self.structure, &self.l);
        let fitted = self.fitted_from(&solution);
        let wres: Vec<f64> = fitted.iter().zip(&self.y).zip(&self.w).map(|((f, y), w)| w * (y - f)).collect();
        // r² = Σ wᵢ resᵢ² + ‖u‖² from the residuals, not from the factor, whose last diagonal
        // loses the digits that y − ŷ cancels
        let rss: f64 = wres.iter().zip(fitted.iter().zip(&self.y)).map(|(wr, (f, y))| wr * (y - f)).sum();
        let pwrss = rss + solution[..self.structure.q].iter().map(|u| u * u).sum::<f64>();
        let zt_w_res = zt_times(&self.terms, &self.structure.terms, self.structure.q, &wres);
        self.state = State { theta: theta.to_vec(), solution, pwrss, logdet_m, logdet_x, fitted, zt_w_res };
        Ok(())
    }

    /// L(θ): assemble C(θ) from the cross-products and factor it.
    fn update_l(&mut self) -> Result<()> {
        assemble(&self.structure, &self.a, &self.lambda, &mut self.l);
        factor(&self.structure, &mut self.l)
    }

    /// The profiled deviance (ML) or REML criterion at the last θ.
    pub fn objective(&self) -> f64 {
        let s = &self.state;
        let ne = self.n_eff();
        let two_pi = 2.0 * std::f64::consts::PI;
        let ld = if self.reml { s.logdet_m + s.logdet_x } else { s.logdet_m };
        ld + ne * (1.0 + (two_pi * s.pwrss / ne).ln()) - self.sum_log_w
    }

    /// b = Λu for every level of every term (global order), at the last θ.
    pub fn b(&self) -> Vec<f64> {
        lambda_times(&self.structure.terms, &self.lambda, &self.state.solution[..self.structure.q])
    }

    /// β at the last θ.
    pub fn beta(&self) -> &[f64] {
        &self.state.solution[self.structure.q..]
    }

    /// Fitted values Xβ + Zb at the last θ.
    pub fn fitted(&self) -> Vec<f64> {
        self.state.fitted.clone()
    }

    /// Xβ + ZΛu for the solution (u, β).
    fn fitted_from(&self, solution: &[f64]) -> Vec<f64> {
        let q = self.structure.q;
        let mut fitted = vec![0.0; self.n];
        add_x_times(&self.x, self.p, &solution[q..], &mut fitted);
        let b = lambda_times(&self.structure.terms, &self.lambda, &solution[..q]);
        add_z_times(&self.terms, &self.structure.terms, &b, &mut fitted);
        fitted
    }

    /// The two parts of the gradient at the last θ: of the log-determinant term (log|M|, or
    /// log|M| + log|RX|² for REML) and of r².
    pub fn gradient_parts(&mut self) -> Result<(Vec<f64>, Vec<f64>)> {
        let s = &self.structure;
        let upto = s.q - s.q_sparse + if self.reml { self.p } else { 0 };
        selected_inverse(s, &self.l, upto, &mut self.z)?;
        let g = trace_sums(s, &self.a, &self.z, &self.lambda, upto);
        let (zwr, u) = (&self.state.zt_w_res, &self.state.solution[..s.q]);
        let (mut g_ld, mut g_r2) = (Vec::new(), Vec::new());
        for (t, gt) in s.terms.iter().zip(&g) {
            let d = t.d;
            for c in 0..d {
                for r in c..d {
                    g_ld.push(2.0 * gt[r + c * d]);
                    let v: f64 = (0..t.n_levels).map(|l| zwr[t.start + l * d + r] * u[t.start + l * d + c]).sum();
                    g_r2.push(-2.0 * v);
                }
            }
        }
        Ok((g_ld, g_r2))
    }

    /// Gradient of `objective` at the last θ.
    pub fn gradient(&mut self) -> Result<Vec<f64>> {
        let (g_ld, g_r2) = self.gradient_parts()?;
        let scale = self.n_eff() / self.state.pwrss;
        Ok(g_ld.iter().zip(&g_r2).map(|(a, b)| a + scale * b).collect())
    }

    /// The average-information approximation of the Hessian of the criterion in θ at the last
    /// θ (Gilmour, Thompson & Cullis 1995, for the profiled criterion), plus the exact
    /// curvature of Σ = ΛΛᵀ in θ. With V = ZΛΛᵀZᵀ + W⁻¹, P the REML projection, vₖ = Vₖ P y
    /// (Vₖ = ∂V/∂θₖ) and r² = yᵀPy:
    ///   H ≈ n′·(vₖᵀPvₗ / r² − cₖcₗ / r⁴) + Σ_ab γ_ab ∂²Σ_ab/∂θₖ∂θₗ,   cₖ = yᵀPvₖ,
    /// the first part the average of observed and expected information (positive
    /// semi-definite), the second the term that is zero at an interior optimum (γ = ∂d/∂Σ,
    /// from the gradient in θ when Λ is nonsingular). P vₗ comes from one solve with the
    /// factor per θ, so the whole matrix costs less than one evaluation of the gradient.
    pub fn average_information(&self, gradient: &[f64]) -> Mat<f64> {
        let s = &self.structure;
        let inputs = AiInputs { terms: &self.terms, layouts: &s.terms, lambda: &self.lambda, x: &self.x, p: self.p, w: &self.w, u: &self.state.solution[..s.q], g: &self.state.zt_w_res };
        let (gram, c) = products(&inputs, |m| solve_columns(s, &self.l, m));
        let (r2, ne) = (self.state.pwrss, self.n_eff());
        let mut h = Mat::from_fn(c.len(), c.len(), |k, l| ne * (gram[(k, l)] / r2 - c[k] * c[l] / (r2 * r2)));
        add_sigma_curvature(&s.terms, &self.lambda, gradient, &mut h);
        h
    }

    /// (RXᵀRX)⁻¹ = (XᵀV⁻¹X)⁻¹σ² / σ² at the last θ: the covariance of β̂ over σ².
    pub fn xtvx_inverse(&self) -> Mat<f64> {
        let s = &self.structure;
        let (o, p) = (s.q - s.q_sparse, self.p);
        let lx = Mat::from_fn(p, p, |i, j| if i >= j { self.l.t[(o + i, o + j)] } else { 0.0 });
        let inv = faer::linalg::triangular_inverse::invert_lower_triangular;
        let mut li = Mat::<f64>::zeros(p, p);
        inv(li.as_mut(), lx.as_ref(), faer::Par::Seq);
        li.transpose() * &li
    }

    /// Var(u | y, β̂)/σ² = M⁻¹ diagonal blocks, one d × d block per level (global order).
    pub fn cond_var_u(&mut self) -> Result<Vec<f64>> {
        let s = &self.structure;
        selected_inverse(s, &self.l, s.q - s.q_sparse, &mut self.z)?;
        let mut out = Vec::new();
        for t in &s.terms {
            let d = t.d;
            for level in 0..t.n_levels {
                let start = t.start + level * d;
                if start < s.q_sparse {
                    out.extend_from_slice(self.z.diag_block(s, s.block_of(start)));
                } else {
                    let o = s.t_index(start);
                    out.extend((0..d * d).map(|k| self.z.t[(o + k % d, o + k / d)]));
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use faer::Side;
    use faer::prelude::Solve;

    /// A small design: crossed (1 + x | g) and (1 | h), and (1 | g:k) nested in g.
    pub(crate) fn design(seed: u64) -> (Vec<f64>, Vec<f64>, Vec<f64>, usize, Vec<ReTermData>) {
        let mut state = seed;
        let mut rnd = move || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((state >> 11) as f64) / ((1u64 << 53) as f64)
        };
        let n = 60;
        let (ng, nh, nk) = (6, 4, 12);
        let g: Vec<u32> = (0..n).map(|i| (i % ng) as u32).collect();
        let h: Vec<u32> = (0..n).map(|_| (rnd() * nh as f64) as u32).collect();
        let k: Vec<u32> = (0..n).map(|i| (i % nk) as u32).collect(); // level k of g:k lies in g = k % 6
        let xv: Vec<f64> = (0..n).map(|_| rnd() * 2.0 - 1.0).collect();
        let y: Vec<f64> = (0..n).map(|i| 1.0 + 0.5 * xv[i] + (g[i] as f64 * 0.3).sin() + h[i] as f64 * 0.2 + rnd()).collect();
        let w: Vec<f64> = (0..n).map(|_| 0.5 + rnd()).collect();
        let x: Vec<f64> = std::iter::repeat(1.0).take(n).chain(xv.iter().copied()).collect();
        let zk = vec![1.0; n];
        let terms = vec![
            ReTermData { codes: k, n_levels: nk, d: 1, z: zk.clone() },
            ReTermData { codes: g, n_levels: ng, d: 2, z: (0..n).flat_map(|i| [1.0, xv[i]]).collect() },
            ReTermData { codes: h, n_levels: nh, d: 1, z: zk },
        ];
        (y, w, x, 2, terms)
    }

    /// The profiled deviance from dense matrices.
    fn dense_objective(y: &[f64], w: &[f64], x: &[f64], p: usize, terms: &[ReTermData], theta: &[f64], reml: bool) -> f64 {
        let n = y.len();
        let q: usize = terms.iter().map(|t| t.d * t.n_levels).sum();
        let mut zl = Mat::<f64>::zeros(n, q);
        let (mut off, mut k) = (0, 0);
        for t in terms {
            let d = t.d;
            let mut lam = vec![0.0; d * d];
            for c in 0..d {
                for r in c..d {
                    lam[r + c * d] = theta[k];
                    k += 1;
                }
            }
            for i in 0..n {
                let o = off + t.codes[i] as usize * d;
                for c in 0..d {
                    zl[(i, o + c)] = (c..d).map(|r| t.z[i * d + r] * lam[r + c * d]).sum();
                }
            }
            off += d * t.n_levels;
        }
        let m = q + p;
        let full = Mat::from_fn(n, m, |i, j| if j < q { zl[(i, j)] } else { x[i + (j - q) * n] });
        let c = Mat::from_fn(m, m, |a, b| (0..n).map(|i| w[i] * full[(i, a)] * full[(i, b)]).sum::<f64>() + if a == b && a < q { 1.0 } else { 0.0 });
        let rhs = Mat::from_fn(m, 1, |a, _| (0..n).map(|i| w[i] * full[(i, a)] * y[i]).sum::<f64>());
        let llt = c.llt(Side::Lower).unwrap();
        let sol = llt.solve(&rhs);
        let lm = c.submatrix(0, 0, q, q).to_owned().llt(Side::Lower).unwrap();
        let ldm: f64 = (0..q).map(|i| 2.0 * lm.L()[(i, i)].ln()).sum();
        let ldc: f64 = (0..m).map(|i| 2.0 * llt.L()[(i, i)].ln()).sum();
        let r2: f64 = (0..n).map(|i| w[i] * (y[i] - (0..m).map(|j| full[(i, j)] * sol[(j, 0)]).sum::<f64>()).powi(2)).sum::<f64>() + (0..q).map(|j| sol[(j, 0)].powi(2)).sum::<f64>();
        let slw: f64 = w.iter().map(|v| v.ln()).sum();
        let ne = if reml { (n - p) as f64 } else { n as f64 };
        let ld = if reml { ldc } else { ldm };
        ld + ne * (1.0 + (2.0 * std::f64::consts::PI * r2 / ne).ln()) - slw
    }

    #[test]
    fn objective_matches_dense_and_gradient_matches_differences() {
        for reml in [false, true] {
            let (y, w, x, p, terms) = design(5);
            let mut model = LmmModel::new(&y, &w, &x, p, terms.clone(), reml).unwrap();
            assert_eq!(model.structure.n_sparse_terms, 2, "g:k and g nested, h crossed");
            let theta = vec![0.7, 1.1, -0.3, 0.4, 0.9];
            model.set_theta(&theta).unwrap();
            let f = model.objective();
            let dense = dense_objective(&y, &w, &x, p, &terms, &theta, reml);
            assert!((f - dense).abs() < 1e-9 * dense.abs(), "reml={reml}: {f} vs dense {dense}");
            let g = model.gradient().unwrap();
            for k in 0..theta.len() {
                let h = 1e-6;
                let mut t = theta.clone();
                t[k] += h;
                model.set_theta(&t).unwrap();
                let fp = model.objective();
                t[k] -= 2.0 * h;
                model.set_theta(&t).unwrap();
                let fm = model.objective();
                let num = (fp - fm) / (2.0 * h);
                assert!((num - g[k]).abs() < 1e-6 * (1.0 + num.abs()), "reml={reml} θ{k}: analytic {} numeric {num}", g[k]);
            }
        }
    }

    #[test]
    fn average_information_approximates_the_hessian() {
        let (y, w, x, p, terms) = design(5);
        let mut model = LmmModel::new(&y, &w, &x, p, terms, true).unwrap();
        let theta = vec![0.7, 1.1, -0.3, 0.4, 0.9];
        model.set_theta(&theta).unwrap();
        let g = model.gradient().unwrap();
        let ai = model.average_information(&g);
        let mut fd = Mat::<f64>::zeros(5, 5);
        for k in 0..5 {
            let mut t = theta.clone();
            t[k] += 1e-6;
            model.set_theta(&t).unwrap();
            let gp = model.gradient().unwrap();
            (0..5).for_each(|i| fd[(i, k)] = (gp[i] - g[i]) / 1e-6);
        }
        // the average information differs from the Hessian by (observed − expected)/2 of one
        // term: symmetric, positive definite here, and a descent direction
        assert!(ai.llt(faer::Side::Lower).is_ok(), "{ai:?}");
        for i in 0..5 {
            assert!((ai[(i, i)] / fd[(i, i)]).abs() < 10.0 && (fd[(i, i)] / ai[(i, i)]).abs() < 10.0, "{i}: ai {ai:?} fd {fd:?}");
        }
    }

    #[test]
    fn solve_columns_matches_the_fit() {
        let (y, w, x, p, terms) = design(4);
        let mut model = LmmModel::new(&y, &w, &x, p, terms, false).unwrap();
        model.set_theta(&[0.5, 0.8, 0.1, 0.3, 0.6]).unwrap();
        // the right-hand side [ΛᵀZᵀWy; XᵀWy] solved column-wise gives the fit's (u, β)
        let s = &model.structure;
        let (q, n) = (s.q, model.n);
        let mut rhs = Mat::<f64>::zeros(q + p, 1);
        for i in 0..n {
            for (term, (l, lam)) in model.terms.iter().zip(s.terms.iter().zip(&model.lambda)) {
                let d = l.d;
                let o = l.start + term.codes[i] as usize * d;
                for c in 0..d {
                    rhs[(o + c, 0)] += w[i] * y[i] * (c..d).map(|m| lam[m + c * d] * term.z[i * d + m]).sum::<f64>();
                }
            }
            (0..p).for_each(|j| rhs[(q + j, 0)] += w[i] * y[i] * x[i + j * n]);
        }
        solve_columns(s, &model.l, &mut rhs);
        for j in 0..q + p {
            assert!((rhs[(j, 0)] - model.state.solution[j]).abs() < 1e-10, "{j}");
        }
    }

    #[test]
    fn all_dense_and_all_sparse_orderings_agree() {
        // the same model with the crossed term first: h then (g:k, g) — g:k now couples
        let (y, w, x, p, terms) = design(9);
        let theta = vec![0.7, 1.1, -0.3, 0.4, 0.9];
        let reordered = vec![terms[2].clone(), terms[0].clone(), terms[1].clone()];
        let theta_r = vec![0.9, 0.7, 1.1, -0.3, 0.4];
        let mut a = LmmModel::new(&y, &w, &x, p, terms, true).unwrap();
        let mut b = LmmModel::new(&y, &w, &x, p, reordered, true).unwrap();
        a.set_theta(&theta).unwrap();
        b.set_theta(&theta_r).unwrap();
        assert!(b.structure.n_sparse_terms == 1);
        assert!((a.objective() - b.objective()).abs() < 1e-9 * a.objective().abs());
        let (ga, gb) = (a.gradient().unwrap(), b.gradient().unwrap());
        assert!((ga[0] - gb[1]).abs() < 1e-8 * (1.0 + ga[0].abs()), "{ga:?} {gb:?}");
        assert!((ga[4] - gb[0]).abs() < 1e-8 * (1.0 + ga[4].abs()), "{ga:?} {gb:?}");
    }
}
