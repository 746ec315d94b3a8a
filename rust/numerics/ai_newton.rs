//! Projected Newton iterations on an approximate Hessian that is cheap to form — the average
//! information of REML (Gilmour, Thompson & Cullis 1995; Johnson & Thompson 1995) — with an
//! Armijo line search on the exact criterion: for covariance parameters it converges in a
//! handful of evaluations where quasi-Newton needs several times more.

use crate::error::{Error, Result};
use crate::numerics::optim::{OptimResult, line_search, newton_decrement, newton_direction};
use faer::Mat;

/// A criterion with its exact gradient and an approximate Hessian at the last evaluated point.
pub trait AiObjective {
    /// f and ∇f at x (the object then holds the state at x).
    fn value_grad(&mut self, x: &[f64]) -> Result<(f64, Vec<f64>)>;
    /// The approximate Hessian at the last point evaluated, given its gradient.
    fn hessian(&mut self, gradient: &[f64]) -> Result<Mat<f64>>;
}

/// Projected Newton iterations on H (made positive definite by a small ridge when needed), with an Armijo line search on the exact
/// criterion; a diagonal θ that ends at its bound of 0 is probed once from 0.01. Returns
/// where it stopped, the last H and its Newton decrement; stops when the decrement is below
/// `tol`.
pub fn ai_newton(obj: &mut dyn AiObjective, theta0: Vec<f64>, lower: &[f64], max_iter: usize, tol: f64) -> Result<(OptimResult, Mat<f64>, f64)> {
    let mut x = theta0;
    x.iter_mut().zip(lower).for_each(|(v, &l)| *v = v.max(l));
    let (mut f, mut g) = obj.value_grad(&x)?;
    if !f.is_finite() || g.iter().any(|v| !v.is_finite()) {
        return Err(Error::NonFiniteStart { what: format!("criterion {f}") });
    }
    let mut res = OptimResult { x: vec![], f, grad: vec![], iterations: 0, evaluations: 1, converged: false, message: String::new() };
    let mut probed = false;
    loop {
        crate::numerics::cancel::check()?;
        let h = ridge_pd(obj.hessian(&g)?);
        let decrement = newton_decrement(&h, &x, &g, lower);
        let stop = |x: Vec<f64>, f, g, res: OptimResult, message: &str| OptimResult { x, f, grad: g, message: message.into(), ..res };
        if decrement <= tol {
            let stuck = if probed { None } else { stuck_at_zero(&x, &g, lower) };
            if let Some(k) = stuck {
                probed = true;
                let mut trial = x.clone();
                trial[k] = 0.01;
                let (ft, gt) = obj.value_grad(&trial)?;
                res.evaluations += 1;
                if ft < f {
                    (x, f, g) = (trial, ft, gt);
                    continue;
                }
                obj.value_grad(&x)?;
                res.evaluations += 1;
            }
            return Ok((stop(x, f, g, res, "Newton decrement below tolerance"), h, decrement));
        }
        if res.iterations >= max_iter {
            return Ok((stop(x, f, g, res, "iteration limit reached"), h, decrement));
        }
        let Some(dir) = newton_direction(&h, &x, &g, lower) else {
            return Ok((stop(x, f, g, res, "no descent direction"), h, decrement));
        };
        let alpha0 = growth_limited_step(&x, &dir, lower);
        let Some((xn, fn_, gn, evals)) = line_search(&mut |t| obj.value_grad(t), &x, f, &g, &dir, lower, alpha0, crate::numerics::polish::ROUNDING)? else {
            obj.value_grad(&x)?;
            res.evaluations += 1;
            return Ok((stop(x, f, g, res, "line search failed on the average-information step"), h, decrement));
        };
        res.evaluations += evals;
        res.iterations += 1;
        (x, f, g) = (xn, fn_, gn);
    }
}

/// How far a diagonal θ may grow in one step: to `MAX_GROWTH`·θ + `GROWTH_FLOOR`.
const MAX_GROWTH: f64 = 3.0;
const GROWTH_FLOOR: f64 = 0.01;

/// The first trial step length along `dir`: 1, or less so that no diagonal θ grows beyond
/// `MAX_GROWTH`·θ + `GROWTH_FLOOR`. The average information gives a small θ a curvature ∝ θ²
/// and so a step ∝ 1/θ, which overshoots when θ should grow (InstEval's department:service
/// term went 0.028 → 0.53 → 0.040 → 0.11 → 0.089); the whole direction is scaled, so it still
/// descends. Over fifteen lmer fits this took 98 evaluations where the full step took 104,
/// none more, with the same optima.
fn growth_limited_step(x: &[f64], dir: &[f64], lower: &[f64]) -> f64 {
    (0..x.len())
        .filter(|&k| lower[k] == 0.0 && dir[k] > 0.0)
        .map(|k| ((MAX_GROWTH - 1.0) * x[k] + GROWTH_FLOOR) / dir[k])
        .fold(1.0, f64::min)
}

/// A diagonal θ at 0 whose gradient is (numerically) zero: for a scalar term 0 is always a
/// stationary point, possibly a maximum.
fn stuck_at_zero(x: &[f64], g: &[f64], lower: &[f64]) -> Option<usize> {
    (0..x.len()).find(|&k| lower[k] == 0.0 && x[k] == 0.0 && g[k].abs() <= 1e-8)
}

/// H plus the smallest ridge (from 1e-10 of its largest diagonal, ×10) that makes it
/// positive definite.
fn ridge_pd(mut h: Mat<f64>) -> Mat<f64> {
    let n = h.nrows();
    let scale = (0..n).map(|i| h[(i, i)].abs()).fold(0.0, f64::max).max(1e-12);
    let mut ridge = 0.0;
    for _ in 0..30 {
        if h.llt(faer::Side::Lower).is_ok() {
            break;
        }
        let add = if ridge == 0.0 { 1e-10 * scale } else { 9.0 * ridge };
        (0..n).for_each(|i| h[(i, i)] += add);
        ridge += add;
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_growing_diagonal_theta_at_most_triples_on_the_first_trial() {
        let lower = [0.0, f64::NEG_INFINITY, 0.0];
        // θ₀ = 0.028 asked to grow by 0.5: α = (2·0.028 + 0.01)/0.5
        let alpha = growth_limited_step(&[0.028, 0.3, 0.4], &[0.5, 5.0, -0.2], &lower);
        assert!((alpha - (2.0 * 0.028 + 0.01) / 0.5).abs() < 1e-15, "{alpha}");
        // shrinking θ, off-diagonal entries and modest growth leave the full step
        assert_eq!(growth_limited_step(&[0.028, 0.3, 0.4], &[-0.02, 5.0, 0.5], &lower), 1.0);
        // from 0 a diagonal θ may reach the floor
        assert!((growth_limited_step(&[0.0, 0.0, 1.0], &[0.1, 0.0, 0.0], &lower) - 0.1).abs() < 1e-15);
    }
}
