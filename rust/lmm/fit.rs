//! Fitting a linear mixed model: quasi-Newton on the profiled (RE)ML criterion with its exact
//! gradient, Newton polishing with a Hessian from differences of that gradient, an honest
//! convergence report, and what the result needs at θ̂ (β̂, σ̂, vcov(β̂), the conditional
//! modes and their conditional covariances).

use crate::error::Result;
use crate::lmm::model::LmmModel;
use crate::numerics::ai_newton::{AiObjective, ai_newton};
use crate::numerics::optim::{OptimOptions, OptimResult, Start, minimize};
use crate::numerics::polish::{ByDifferences, Convergence, PolishOptions, polish};
use crate::terms::re_products::lambda_blocks;
use faer::Mat;

/// Newton decrement (criterion units) below which a fit counts as converged.
const DECREMENT_TOL: f64 = 1e-8;
/// Projected gradient accepted as converged when the Hessian is not positive definite.
const GRAD_TOL_SINGULAR: f64 = 1e-4;
/// Projected gradient at rounding level: converged whatever the Hessian estimate says.
const GRAD_EXACT: f64 = 1e-9;
const BFGS_GTOL: f64 = 1e-5;
const BFGS_DTOL: f64 = 1e-10;
const POLISH_STEPS: usize = 8;

/// Options of a fit (defaults live in Python).
#[derive(Clone, Debug)]
pub struct LmmFitOptions {
    pub max_iter: usize,
    pub theta0: Option<Vec<f64>>,
}

/// Everything a fit produces.
#[derive(Clone, Debug)]
pub struct LmmFit {
    pub theta: Vec<f64>,
    pub beta: Vec<f64>,
    pub sigma: f64,
    /// REML criterion or ML deviance at θ̂
    pub objective: f64,
    pub report: Convergence,
    /// Hessian of the criterion in θ
    pub hessian: Mat<f64>,
    /// σ²(RXᵀRX)⁻¹
    pub vcov_beta: Mat<f64>,
    /// conditional modes b = Λû, global order
    pub b: Vec<f64>,
    pub fitted: Vec<f64>,
    pub pwrss: f64,
    pub logdet_m: f64,
    pub logdet_x: f64,
}

/// A penalised residual sum of squares at or below this means the response is fitted exactly:
/// 1e-20 of the response's weighted spread about its mean, or what rounding the responses
/// to f64 alone leaves (64 ulps of the largest), whichever is larger. (The spread, not Σ w y²:
/// a response with a tiny spread about a large mean is still a response.)
fn exact_fit_floor(y: &[f64], w: &[f64]) -> f64 {
    let (sw, swy) = y.iter().zip(w).fold((0.0, 0.0), |(a, b), (y, w)| (a + w, b + w * y));
    let mean = swy / sw;
    let spread: f64 = y.iter().zip(w).map(|(y, w)| w * (y - mean) * (y - mean)).sum();
    let rounding = 64.0 * f64::EPSILON * y.iter().fold(0.0_f64, |m, y| m.max(y.abs()));
    (1e-20 * spread).max(sw * rounding * rounding)
}

/// The criterion and its gradient at θ.
pub fn evaluate(model: &mut LmmModel, theta: &[f64]) -> Result<(f64, Vec<f64>)> {
    model.set_theta(theta)?;
    if model.state().pwrss <= exact_fit_floor(&model.y, &model.w) {
        return Err(crate::error::Error::NonFiniteStart {
            what: format!("the penalised residual sum of squares is {}: is the response fitted exactly?", model.state().pwrss),
        });
    }
    Ok((model.objective(), model.gradient()?))
}

/// Fit the model: Newton steps on the average-information Hessian (`ai_newton`), which
/// converge in a handful of evaluations; if they stall, quasi-Newton with Newton polishing on
/// a finite-difference Hessian of the exact gradient takes over.
pub fn fit(model: &mut LmmModel, opts: &LmmFitOptions) -> Result<LmmFit> {
    let lower = model.theta_lower();
    let theta0 = opts.theta0.clone().unwrap_or_else(|| model.theta_start());
    let (mut res, hessian, decrement) = ai_newton(&mut LmmAi(model), theta0, &lower, opts.max_iter, DECREMENT_TOL * 1e-2)?;
    if decrement <= DECREMENT_TOL || res.iterations >= opts.max_iter {
        // ai_newton leaves the model at res.x
        return Ok(report(model, res, &lower, decrement, hessian));
    }
    let mut fg = |t: &[f64]| evaluate(model, t);
    let start = Start { x: res.x.clone(), fg: Some((res.f, res.grad.clone())), hessian: Some(hessian) };
    let used = (res.iterations, res.evaluations);
    let remaining = opts.max_iter.saturating_sub(used.0).max(1);
    res = minimize(&mut fg, start, &lower, &OptimOptions { gtol: BFGS_GTOL, dtol: BFGS_DTOL, noise: crate::numerics::polish::ROUNDING, max_iter: remaining })?;
    res.iterations += used.0;
    res.evaluations += used.1;
    let polish_opts = PolishOptions { steps: POLISH_STEPS, dtol: 1e-14 * res.f.abs().max(1.0), max_iter: opts.max_iter };
    let (hessian, decrement) = polish(&mut ByDifferences(&mut fg), &mut res, &lower, polish_opts)?;
    drop(fg);
    model.set_theta(&res.x)?;
    Ok(report(model, res, &lower, decrement, hessian))
}

/// The profiled criterion with its average-information Hessian.
struct LmmAi<'a>(&'a mut LmmModel);

impl AiObjective for LmmAi<'_> {
    fn value_grad(&mut self, x: &[f64]) -> Result<(f64, Vec<f64>)> {
        evaluate(self.0, x)
    }

    fn hessian(&mut self, gradient: &[f64]) -> Result<Mat<f64>> {
        Ok(self.0.average_information(gradient))
    }
}

fn report(model: &mut LmmModel, res: OptimResult, lower: &[f64], decrement: f64, hessian: Mat<f64>) -> LmmFit {
    let report = Convergence::judge(&res, lower, decrement, DECREMENT_TOL, GRAD_TOL_SINGULAR, Some(GRAD_EXACT));
    let state = model.state().clone();
    let sigma2 = state.pwrss / model.n_eff();
    let vcov_beta = model.xtvx_inverse() * faer::Scale(sigma2);
    LmmFit {
        theta: res.x,
        beta: model.beta().to_vec(),
        sigma: sigma2.sqrt(),
        objective: model.objective(),
        report,
        hessian,
        vcov_beta,
        b: model.b(),
        fitted: model.fitted(),
        pwrss: state.pwrss,
        logdet_m: state.logdet_m,
        logdet_x: state.logdet_x,
    }
}

/// Var(b | y, β̂) = σ²ΛM⁻¹Λᵀ for every level at θ (lme4's `condVar`), d × d column-major
/// blocks in global order; σ² = r²/n′ at θ.
pub fn conditional_covariances(model: &mut LmmModel, theta: &[f64]) -> Result<Vec<f64>> {
    model.set_theta(theta)?;
    let sigma2 = model.state().pwrss / model.n_eff();
    let minv = model.cond_var_u()?;
    Ok(lambda_blocks(&model.structure.terms, model.lambda(), &minv, sigma2))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lmm::model::tests::design;

    #[test]
    fn fit_reaches_a_stationary_point() {
        for reml in [false, true] {
            let (y, w, x, p, terms) = design(3);
            let mut model = LmmModel::new(&y, &w, &x, p, terms, reml).unwrap();
            let f = fit(&mut model, &LmmFitOptions { max_iter: 200, theta0: None }).unwrap();
            assert!(f.report.converged, "{}", f.report.message);
            assert!(f.report.max_grad < 1e-4, "{:?}", f.report.gradient);
        }
    }
}
