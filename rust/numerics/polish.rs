//! Newton polishing from where a quasi-Newton search stopped: steps on a Hessian from
//! differences of the exact gradient (which the standard errors need anyway), refreshed when
//! the point moves, and the final Newton decrement for an honest convergence test.

use crate::error::Result;
use crate::numerics::optim::{OptimResult, fd_hessian, line_search, max_projected_grad, newton_decrement, newton_direction};
use faer::Mat;

/// Relative rounding of a criterion summed over clusters or observations: line searches do
/// not chase decreases below it (`optim::line_search`'s `noise`).
pub const ROUNDING: f64 = 1e-14;

/// A criterion with its exact gradient and a Hessian.
pub trait Polishable {
    /// f and ∇f at x.
    fn value_grad(&mut self, x: &[f64]) -> Result<(f64, Vec<f64>)>;
    /// The Hessian at x (gradient g there).
    fn hessian(&mut self, x: &[f64], g: &[f64]) -> Result<Mat<f64>>;
}

/// A plain closure, its Hessian by forward differences of the gradient (`optim::fd_hessian`).
pub struct ByDifferences<'a>(pub &'a mut dyn FnMut(&[f64]) -> Result<(f64, Vec<f64>)>);

impl Polishable for ByDifferences<'_> {
    fn value_grad(&mut self, x: &[f64]) -> Result<(f64, Vec<f64>)> {
        (self.0)(x)
    }

    fn hessian(&mut self, x: &[f64], g: &[f64]) -> Result<Mat<f64>> {
        fd_hessian(self.0, x, g)
    }
}

/// How far polishing goes.
#[derive(Clone, Copy, Debug)]
pub struct PolishOptions {
    /// at most this many Newton steps (and never beyond the overall iteration limit)
    pub steps: usize,
    /// stop once the Newton decrement is at most this
    pub dtol: f64,
    pub max_iter: usize,
}

/// Newton steps from `res`; the last Hessian and its Newton decrement. When the decrease a
/// step promises is below the rounding of f (the line search cannot see it), the full step is
/// taken if it shrinks the projected gradient.
pub fn polish(obj: &mut dyn Polishable, res: &mut OptimResult, lower: &[f64], opts: PolishOptions) -> Result<(Mat<f64>, f64)> {
    let mut hessian = obj.hessian(&res.x, &res.grad)?;
    res.evaluations += res.x.len();
    for _ in 0..opts.steps.min(opts.max_iter.saturating_sub(res.iterations)) {
        crate::numerics::cancel::check()?;
        let decrement = newton_decrement(&hessian, &res.x, &res.grad, lower);
        if decrement <= opts.dtol || !decrement.is_finite() {
            break;
        }
        let Some(dir) = newton_direction(&hessian, &res.x, &res.grad, lower) else { break };
        let mut fg = |x: &[f64]| obj.value_grad(x);
        let step = match line_search(&mut fg, &res.x, res.f, &res.grad, &dir, lower, 1.0, ROUNDING)? {
            Some(step) => Some(step),
            None if decrement < 1e-8 => full_step(&mut fg, &res.x, &res.grad, &dir, lower)?,
            None => None,
        };
        let Some((x, f, g, evals)) = step else { break };
        res.evaluations += evals;
        res.iterations += 1;
        let moved = x.iter().zip(&res.x).map(|(a, b)| (a - b).abs() / b.abs().max(0.1)).fold(0.0, f64::max);
        (res.x, res.f, res.grad) = (x, f, g);
        if moved > 1e-3 {
            hessian = obj.hessian(&res.x, &res.grad)?;
            res.evaluations += res.x.len();
        }
    }
    let decrement = newton_decrement(&hessian, &res.x, &res.grad, lower);
    Ok((hessian, decrement))
}

pub(crate) type Step = (Vec<f64>, f64, Vec<f64>, usize);

/// x + dir (projected) when its projected gradient is smaller than at x.
pub(crate) fn full_step(fg: &mut dyn FnMut(&[f64]) -> Result<(f64, Vec<f64>)>, x: &[f64], g: &[f64], dir: &[f64], lower: &[f64]) -> Result<Option<Step>> {
    let xt: Vec<f64> = x.iter().zip(dir).zip(lower).map(|((x, d), l)| (x + d).max(*l)).collect();
    let Ok((f, gt)) = fg(&xt) else { return Ok(None) };
    let better = max_projected_grad(&xt, &gt, lower) < max_projected_grad(x, g, lower);
    Ok((better && f.is_finite()).then_some((xt, f, gt, 1)))
}

/// The convergence verdict of a fit and its message: converged when the Newton decrement is at
/// most `dtol` (or, where the Hessian is not positive definite and the decrement infinite,
/// when the largest projected gradient is at most `gtol_singular`).
pub fn verdict(decrement: f64, max_grad: f64, dtol: f64, gtol_singular: f64, why_stopped: &str) -> (bool, String) {
    let converged = if decrement.is_finite() { decrement <= dtol } else { max_grad <= gtol_singular };
    let message = if converged {
        format!("converged: Newton decrement {decrement:.2e}, max|grad| {max_grad:.2e}")
    } else {
        format!("not converged ({why_stopped}): max|grad| = {max_grad:.3e}, Newton decrement {decrement:.3e}")
    };
    (converged, message)
}

/// How a fit's optimisation ended: the gradient at the estimate and its largest projected
/// entry, the verdict with its message, and the work done.
#[derive(Clone, Debug, Default)]
pub struct Convergence {
    pub gradient: Vec<f64>,
    pub max_grad: f64,
    pub converged: bool,
    pub iterations: usize,
    pub evaluations: usize,
    pub message: String,
}

impl Convergence {
    /// The report on the optimisation `res` (the first `res.grad.len()` entries of `res.x`
    /// optimised, bounded below by `lower`) whose Newton decrement at the end is `decrement`:
    /// [`verdict`] with tolerance `dtol`, or with any decrement once the projected gradient is
    /// at most `grad_exact` (a gradient at rounding level is converged whatever the Hessian
    /// estimate says).
    pub fn judge(res: &OptimResult, lower: &[f64], decrement: f64, dtol: f64, gtol_singular: f64, grad_exact: Option<f64>) -> Self {
        let max_grad = max_projected_grad(&res.x[..res.grad.len()], &res.grad, lower);
        let dtol = if grad_exact.is_some_and(|g| max_grad <= g) { f64::INFINITY } else { dtol };
        let (converged, message) = verdict(decrement, max_grad, dtol, gtol_singular, &res.message);
        Convergence { gradient: res.grad.clone(), max_grad, converged, iterations: res.iterations, evaluations: res.evaluations, message }
    }
}
