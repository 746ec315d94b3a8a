//! Bound-constrained quasi-Newton minimisation driven by analytic gradients, and Newton
//! polishing with a Hessian from central differences of the gradient.
//!
//! Projected BFGS (Bertsekas 1982): variables at their lower bound with a gradient pushing
//! outwards are held fixed, the BFGS model is solved on the free ones, and the step is
//! projected back onto the box; backtracking enforces the Armijo condition along the
//! projected path, and Powell's damping keeps the Hessian approximation positive definite.

use crate::error::{Error, Result};
use faer::{Mat, Side};
use faer::prelude::Solve;

/// f and ∇f at x.
pub type Objective<'a> = dyn FnMut(&[f64]) -> Result<(f64, Vec<f64>)> + 'a;

/// Stopping rules.
#[derive(Clone, Debug)]
pub struct OptimOptions {
    /// stop when every projected gradient component is at most this (objective units)
    pub gtol: f64,
    /// stop when the quasi-Newton model predicts a decrease of at most this (objective units):
    /// the scale-free test, which large problems need because their gradient components are
    /// large while the objective is already flat to rounding
    pub dtol: f64,
    /// relative rounding level of f: line searches stop asking for decreases below
    /// `noise`·|f| (0 keeps halving down to the step-length limit)
    pub noise: f64,
    /// iteration cap
    pub max_iter: usize,
}

/// Where the minimiser stopped.
#[derive(Clone, Debug)]
pub struct OptimResult {
    pub x: Vec<f64>,
    pub f: f64,
    pub grad: Vec<f64>,
    pub iterations: usize,
    pub evaluations: usize,
    pub converged: bool,
    pub message: String,
}

/// Largest |projected gradient|: components at their bound pointing outwards count as 0.
pub fn max_projected_grad(x: &[f64], g: &[f64], lower: &[f64]) -> f64 {
    x.iter().zip(g).zip(lower).map(|((&x, &g), &l)| if at_bound(x, l) && g > 0.0 { 0.0 } else { g.abs() }).fold(0.0, f64::max)
}

fn at_bound(x: f64, l: f64) -> bool {
    l.is_finite() && x <= l + 1e-12 * (1.0 + l.abs())
}

fn project(x: &mut [f64], lower: &[f64]) {
    x.iter_mut().zip(lower).for_each(|(x, &l)| *x = x.max(l));
}

/// Where a search starts: x0, and f(x0), ∇f(x0) when already known, and an initial Hessian.
pub struct Start {
    pub x: Vec<f64>,
    pub fg: Option<(f64, Vec<f64>)>,
    pub hessian: Option<Mat<f64>>,
}

/// Minimise f subject to x ≥ lower from `start`.
pub fn minimize(fg: &mut Objective, start: Start, lower: &[f64], opts: &OptimOptions) -> Result<OptimResult> {
    let np = start.x.len();
    let mut x = start.x;
    project(&mut x, lower);
    let known = start.fg.filter(|_| x.iter().zip(lower).all(|(v, l)| v >= l));
    let (mut f, mut g, mut evaluations) = match known {
        Some((f, g)) => (f, g, 0),
        None => {
            let (f, g) = fg(&x)?;
            (f, g, 1)
        }
    };
    let b0 = start.hessian;
    if !f.is_finite() || g.iter().any(|v| !v.is_finite()) {
        return Err(Error::NonFiniteStart { what: format!("objective {f}") });
    }
    let scaled_start = b0.is_none();
    let mut b = b0.unwrap_or_else(|| Mat::identity(np, np));
    let mut message = String::from("iteration limit reached");
    let mut converged = false;
    let mut iterations = 0;
    while iterations < opts.max_iter {
        crate::numerics::cancel::check()?;
        if max_projected_grad(&x, &g, lower) <= opts.gtol {
            converged = true;
            message = "projected gradient below tolerance".into();
            break;
        }
        iterations += 1;
        let dir = match newton_direction(&b, &x, &g, lower) {
            Some(d) => d,
            None => {
                b = Mat::identity(np, np);
                g.iter().map(|v| -v).collect()
            }
        };
        let predicted = -dir.iter().zip(&g).map(|(d, g)| d * g).sum::<f64>();
        if predicted <= opts.dtol {
            converged = true;
            message = "predicted decrease below tolerance".into();
            break;
        }
        let first = iterations == 1 && scaled_start;
        let alpha0 = if first { (1.0 / dir.iter().fold(0.0f64, |m, v| m.max(v.abs()))).min(1.0) } else { 1.0 };
        let Some((x_new, f_new, g_new, evals)) = line_search(fg, &x, f, &g, &dir, lower, alpha0, opts.noise)? else {
            message = "line search could not decrease the objective".into();
            break;
        };
        evaluations += evals;
        let s: Vec<f64> = x_new.iter().zip(&x).map(|(a, b)| a - b).collect();
        let y: Vec<f64> = g_new.iter().zip(&g).map(|(a, b)| a - b).collect();
        if first {
            let sy: f64 = s.iter().zip(&y).map(|(a, b)| a * b).sum();
            let yy: f64 = y.iter().map(|v| v * v).sum();
            if sy > 0.0 {
                b = Mat::<f64>::identity(np, np) * faer::Scale(yy / sy);
            }
        }
        damped_bfgs_update(&mut b, &s, &y);
        let stalled = (f - f_new).abs() <= 1e-15 * f.abs().max(1.0) && s.iter().all(|v| v.abs() <= 1e-13);
        x = x_new;
        f = f_new;
        g = g_new;
        if stalled {
            message = "no further progress possible".into();
            break;
        }
    }
    if !converged && max_projected_grad(&x, &g, lower) <= opts.gtol {
        converged = true;
    }
    Ok(OptimResult { x, f, grad: g, iterations, evaluations, converged, message })
}

/// Indices of the variables that may move: not at a bound with the gradient pushing outwards.
fn free_set(x: &[f64], g: &[f64], lower: &[f64]) -> Vec<usize> {
    (0..x.len()).filter(|&i| !(at_bound(x[i], lower[i]) && g[i] > 0.0)).collect()
}

/// −B_FF⁻¹ g_F on the free variables, 0 on the fixed ones; None if B_FF is not PD or the
/// direction does not descend.
pub fn newton_direction(b: &Mat<f64>, x: &[f64], g: &[f64], lower: &[f64]) -> Option<Vec<f64>> {
    let free = free_set(x, g, lower);
    let nf = free.len();
    let bff = Mat::from_fn(nf, nf, |i, j| b[(free[i], free[j])]);
    let gf = Mat::from_fn(nf, 1, |i, _| -g[free[i]]);
    let sol = bff.llt(Side::Lower).ok()?.solve(&gf);
    let mut dir = vec![0.0; x.len()];
    for (k, &i) in free.iter().enumerate() {
        dir[i] = sol[(k, 0)];
    }
    let slope: f64 = dir.iter().zip(g).map(|(d, g)| d * g).sum();
    (slope < 0.0 && dir.iter().all(|v| v.is_finite())).then_some(dir)
}

type Step = (Vec<f64>, f64, Vec<f64>, usize);

/// Backtracking along the projected path x(α) = P(x + α·d) until the Armijo condition
/// f(x(α)) ≤ f(x) + 10⁻⁴·∇f·(x(α) − x) holds. Gives up once the decrease it asks for is
/// below `noise`·|f|, the rounding of f itself, where no step can show a decrease.
#[allow(clippy::too_many_arguments)]
pub fn line_search(fg: &mut Objective, x: &[f64], f: f64, g: &[f64], dir: &[f64], lower: &[f64], alpha0: f64, noise: f64) -> Result<Option<Step>> {
    let slope: f64 = dir.iter().zip(g).map(|(d, g)| d * g).sum();
    let noise = noise * f.abs();
    let mut alpha = alpha0;
    for evals in 1..=60 {
        if -alpha * slope < noise {
            break;
        }
        let mut xt: Vec<f64> = x.iter().zip(dir).map(|(x, d)| x + alpha * d).collect();
        project(&mut xt, lower);
        let decrease: f64 = xt.iter().zip(x).zip(g).map(|((a, b), g)| (a - b) * g).sum();
        // a failed inner fit at a trial point is treated like an infinite objective
        if let Ok((ft, gt)) = fg(&xt) {
            if ft.is_finite() && gt.iter().all(|v| v.is_finite()) && ft <= f + 1e-4 * decrease {
                return Ok(Some((xt, ft, gt, evals)));
            }
        }
        alpha *= 0.5;
        if alpha * dir.iter().fold(0.0f64, |m, v| m.max(v.abs())) < 1e-15 {
            break;
        }
    }
    Ok(None)
}

/// B ← B + yyᵀ/sᵀy − Bs(Bs)ᵀ/sᵀBs, with y damped towards Bs when sᵀy < 0.2·sᵀBs (Powell).
fn damped_bfgs_update(b: &mut Mat<f64>, s: &[f64], y: &[f64]) {
    let np = s.len();
    let bs: Vec<f64> = (0..np).map(|i| (0..np).map(|j| b[(i, j)] * s[j]).sum()).collect();
    let sbs: f64 = s.iter().zip(&bs).map(|(a, b)| a * b).sum();
    let sy: f64 = s.iter().zip(y).map(|(a, b)| a * b).sum();
    if sbs <= 0.0 || !sbs.is_finite() {
        return;
    }
    let theta = if sy >= 0.2 * sbs { 1.0 } else { 0.8 * sbs / (sbs - sy) };
    let r: Vec<f64> = y.iter().zip(&bs).map(|(y, bs)| theta * y + (1.0 - theta) * bs).collect();
    let sr: f64 = s.iter().zip(&r).map(|(a, b)| a * b).sum();
    if sr <= 0.0 {
        return;
    }
    for i in 0..np {
        for j in 0..np {
            b[(i, j)] += r[i] * r[j] / sr - bs[i] * bs[j] / sbs;
        }
    }
}

/// Hessian by forward differences of the analytic gradient (given at x as `g`),
/// symmetrised. With a gradient accurate to ~1e-13 relative, steps of 1e-6 relative leave a
/// truncation error of order 1e-6 and a rounding error of order 1e-7. Bounds are ignored
/// (a covariance parameter may step across zero, where the objective is still defined).
pub fn fd_hessian(fg: &mut Objective, x: &[f64], g: &[f64]) -> Result<Mat<f64>> {
    symmetrised(fd_hessian_columns(fg, x, Some(g), 0..x.len(), 1e-6)?)
}

/// Hessian by central differences of the gradient (steps 1e-4 relative), symmetrised: twice
/// the evaluations of [`fd_hessian`], for a truncation error of order 1e-8.
pub fn fd_hessian_central(fg: &mut Objective, x: &[f64]) -> Result<Mat<f64>> {
    symmetrised(fd_hessian_columns(fg, x, None, 0..x.len(), 1e-4)?)
}

fn symmetrised(h: Mat<f64>) -> Result<Mat<f64>> {
    Ok(Mat::from_fn(h.nrows(), h.ncols(), |i, j| 0.5 * (h[(i, j)] + h[(j, i)])))
}

/// Columns `cols` of the Hessian by differences of the gradient with steps
/// `rel_step`·max(|xⱼ|, 0.1): forward from `g` = ∇f(x) when given, central otherwise; an
/// np × np matrix with the other columns 0.
pub fn fd_hessian_columns(fg: &mut Objective, x: &[f64], g: Option<&[f64]>, cols: std::ops::Range<usize>, rel_step: f64) -> Result<Mat<f64>> {
    let np = x.len();
    let mut h = Mat::<f64>::zeros(np, np);
    let mut xt = x.to_vec();
    for j in cols {
        let step = rel_step * x[j].abs().max(0.1);
        xt[j] = x[j] + step;
        let (_, gp) = fg(&xt)?;
        let (gm, width) = match g {
            Some(g) => (g.to_vec(), step),
            None => {
                xt[j] = x[j] - step;
                (fg(&xt)?.1, 2.0 * step)
            }
        };
        xt[j] = x[j];
        for i in 0..np {
            h[(i, j)] = (gp[i] - gm[i]) / width;
        }
    }
    Ok(h)
}

/// The Newton decrement gᵀH⁻¹g on the free variables (∞ if H is not positive definite there).
pub fn newton_decrement(h: &Mat<f64>, x: &[f64], g: &[f64], lower: &[f64]) -> f64 {
    match newton_direction(h, x, g, lower) {
        Some(d) => -d.iter().zip(g).map(|(d, g)| d * g).sum::<f64>(),
        None => f64::INFINITY,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimises_a_bounded_rosenbrock() {
        let mut f = |x: &[f64]| -> Result<(f64, Vec<f64>)> {
            let (a, b) = (x[0], x[1]);
            let f = (1.0 - a).powi(2) + 100.0 * (b - a * a).powi(2);
            Ok((f, vec![-2.0 * (1.0 - a) - 400.0 * a * (b - a * a), 200.0 * (b - a * a)]))
        };
        let start = |x: [f64; 2]| Start { x: x.to_vec(), fg: None, hessian: None };
        let r = minimize(&mut f, start([-1.2, 1.0]), &[f64::NEG_INFINITY, f64::NEG_INFINITY], &OptimOptions { gtol: 1e-8, dtol: 0.0, noise: 0.0, max_iter: 500 }).unwrap();
        assert!(r.converged && (r.x[0] - 1.0).abs() < 1e-6, "{r:?}");
        // with the bound b ≥ 1.5 the minimum moves to the boundary
        let r = minimize(&mut f, start([-1.2, 2.0]), &[f64::NEG_INFINITY, 1.5], &OptimOptions { gtol: 1e-8, dtol: 0.0, noise: 0.0, max_iter: 500 }).unwrap();
        assert!(r.converged && r.x[1] == 1.5, "{r:?}");
    }
}
