//! Fitting a GLMM with any number of random-effects terms, in lme4's two stages: θ on the
//! nAGQ = 0 criterion (β at the joint mode), then — for the Laplace approximation — (θ, β)
//! jointly from there. Both use the exact gradient; the final Newton polish uses a
//! finite-difference Hessian of it (needed for the standard errors anyway), and convergence
//! is judged by the Newton decrement, as for one grouping factor (`glmm::fit`).

use crate::error::{Error, Result};
use crate::family::glm::{GlmRows, glm_fit};
use crate::glmm::fit::FitOptions;
use crate::glmm::shared::{DECREMENT_TOL, GRAD_TOL_SINGULAR, bfgs_options, hessian_vcov, initial_hessian, polish_options};
use crate::glmm::sparse::model::{MODE_TOL, MODE_TOL_START, MODE_TOL_TIGHT, SparseGlmm};
use crate::numerics::ai_newton::{AiObjective, ai_newton};
use crate::numerics::optim::{OptimResult, Start, minimize};
use crate::numerics::polish::{ByDifferences, Convergence, Polishable, polish};
use crate::terms::re_products::lambda_blocks;
use faer::{Mat, Side};
use faer::prelude::Solve;

/// Newton decrement at which the nAGQ = 0 stage stops: before a Laplace fit it only needs to
/// land near the optimum; for an nAGQ = 0 fit the polish takes it the rest of the way.
const STAGE1_DTOL: f64 = 1e-1;
const STAGE1_DTOL_FINAL: f64 = 1e-8;

/// Everything a fit produces.
#[derive(Clone, Debug)]
pub struct SparseGlmmFit {
    pub theta: Vec<f64>,
    pub beta: Vec<f64>,
    pub deviance: f64,
    pub report: Convergence,
    pub hessian: Mat<f64>,
    pub vcov_beta: Mat<f64>,
    pub vcov_source: &'static str,
    /// b = Λû (global order)
    pub b: Vec<f64>,
    /// Var(b | y) = ΛM_F⁻¹Λᵀ per level (d × d blocks, global order)
    pub cond_var: Vec<f64>,
    pub eta: Vec<f64>,
    pub mu: Vec<f64>,
    pub dev_resid: Vec<f64>,
}

type Fg<'a> = dyn FnMut(&[f64]) -> Result<(f64, Vec<f64>)> + 'a;

/// Fit the model.
pub fn fit(model: &mut SparseGlmm, opts: &FitOptions) -> Result<SparseGlmmFit> {
    let (nt, p) = (model.n_theta(), model.p);
    let lower_theta = model.theta_lower();
    let theta0 = opts.theta0.clone().unwrap_or_else(|| model.structure().theta_start());
    if theta0.len() != nt || opts.beta0.as_ref().is_some_and(|b| b.len() != p) {
        return Err(Error::bad_input("starting values have the wrong length"));
    }
    let mut beta = match &opts.beta0 {
        Some(b) => b.clone(),
        None => glm_start(model)?,
    };
    // stage 1: θ on the nAGQ = 0 criterion (for the Laplace fit only a starting point)
    let (tol1, mode_tol1) = if opts.n_agq == 0 { (STAGE1_DTOL_FINAL, MODE_TOL) } else { (STAGE1_DTOL, MODE_TOL_START) };
    model.mode_tol = mode_tol1;
    let stage1 = ai_newton(&mut Nagq0Ai { model, beta: &mut beta }, theta0, &lower_theta, opts.max_iter, tol1);
    model.mode_tol = MODE_TOL;
    let (mut res, _, _) = stage1?;
    if opts.n_agq == 0 {
        let (hessian, decrement) = {
            let beta_ref = &mut beta;
            let mut fg = |t: &[f64]| model.nagq0(t, beta_ref, true).map(|e| (e.deviance, e.gradient));
            polish(&mut ByDifferences(&mut fg), &mut res, &lower_theta, polish_options(opts.max_iter))?
        };
        model.nagq0(&res.x, &mut beta, false)?;
        let vcov = model.fisher_vcov(&res.x, &beta)?;
        let theta = res.x.clone();
        return finish(model, res, &lower_theta, decrement, hessian, theta, beta, vcov, "fisher");
    }
    // stage 2: (θ, β) on the Laplace deviance
    let lower: Vec<f64> = lower_theta.iter().copied().chain(std::iter::repeat(f64::NEG_INFINITY).take(p)).collect();
    let x0: Vec<f64> = res.x.iter().chain(&beta).copied().collect();
    let fisher = information(&model.fisher_vcov(&res.x, &beta)?);
    let used = (res.iterations, res.evaluations);
    let mut fg = |x: &[f64]| model.laplace(&x[..nt], &x[nt..], true).map(|e| (e.deviance, e.gradient));
    let f0 = fg(&x0)?;
    let hessian0 = match &fisher {
        Some(info) => initial_hessian(&mut fg, &x0, &f0.1, nt, info)?,
        None => None,
    };
    let bfgs = bfgs_options(opts.max_iter);
    let mut res = minimize(&mut fg, Start { x: x0, fg: Some(f0), hessian: hessian0 }, &lower, &bfgs)?;
    if let Some((x, f, g)) = escape_zero(&mut fg, &res, &lower)? {
        let again = minimize(&mut fg, Start { x, fg: Some((f, g)), hessian: None }, &lower, &bfgs)?;
        res = OptimResult { iterations: res.iterations + again.iterations, evaluations: res.evaluations + again.evaluations + 1, ..again };
    }
    res.iterations += used.0;
    res.evaluations += used.1 + 1 + nt;
    drop(fg);
    let polish_opts = polish_options(opts.max_iter);
    let (hessian, decrement) = polish(&mut LaplacePolish { model, nt }, &mut res, &lower, polish_opts)?;
    let (theta, beta) = (res.x[..nt].to_vec(), res.x[nt..].to_vec());
    let (vcov, source) = match hessian_vcov(&hessian, nt) {
        Some(v) => (v, "hessian"),
        None => (model.fisher_vcov(&theta, &beta)?, "fisher"),
    };
    finish(model, res, &lower, decrement, hessian, theta, beta, vcov, source)
}

/// A diagonal θ stopped exactly at its bound 0 with a zero gradient: for a scalar term 0 is
/// always a stationary point of the Laplace deviance (it is even in θ), and may be a maximum
/// the quasi-Newton search was projected onto. Probe 0.05 away; the better point to restart
/// from, if the probe is lower.
fn escape_zero(fg: &mut Fg, res: &OptimResult, lower: &[f64]) -> Result<Option<(Vec<f64>, f64, Vec<f64>)>> {
    for k in 0..res.x.len() {
        if lower[k] == 0.0 && res.x[k] <= 1e-12 && res.grad[k].abs() <= 1e-6 {
            let mut x = res.x.clone();
            x[k] = 0.05;
            if let Ok((f, g)) = fg(&x) {
                if f < res.f - 1e-9 * res.f.abs().max(1.0) {
                    return Ok(Some((x, f, g)));
                }
            }
        }
    }
    Ok(None)
}

/// The nAGQ = 0 criterion in θ (β carried along at the joint mode) with its
/// average-information Hessian.
struct Nagq0Ai<'a> {
    model: &'a mut SparseGlmm,
    beta: &'a mut Vec<f64>,
}

impl AiObjective for Nagq0Ai<'_> {
    fn value_grad(&mut self, theta: &[f64]) -> Result<(f64, Vec<f64>)> {
        self.model.nagq0(theta, self.beta, true).map(|e| (e.deviance, e.gradient))
    }

    fn hessian(&mut self, gradient: &[f64]) -> Result<Mat<f64>> {
        Ok(self.model.average_information_joint(gradient))
    }
}

/// β of the GLM without random effects (lme4's start), the modes reset to 0.
fn glm_start(model: &mut SparseGlmm) -> Result<Vec<f64>> {
    model.u.fill(0.0);
    let case_weights = vec![1.0; model.n];
    let rows = GlmRows { y: &model.y, m: &model.m, offset: &model.offset, x: &model.x, p: model.p, case_weights: &case_weights };
    glm_fit(&rows, model.family, model.link)
}

/// The Hessian of the Laplace deviance at x by forward differences of the exact gradient,
/// columns spread over the threads (each on its own copy of the model). The mode at x is
/// iterated to rounding level (the step divides the mode's error); every column starts from
/// its first-order prediction from there (`mode_derivatives`), so the result does not depend
/// on the number of threads, and with a canonical link takes it as the mode
/// (`laplace_at_mode`). The model is left at x.
fn fd_hessian_laplace(model: &mut SparseGlmm, x: &[f64], nt: usize) -> Result<Mat<f64>> {
    model.mode_tol = MODE_TOL_TIGHT;
    let h = fd_hessian_tight(model, x, nt);
    model.mode_tol = MODE_TOL;
    model.laplace(&x[..nt], &x[nt..], false)?;
    h
}

fn fd_hessian_tight(model: &mut SparseGlmm, x: &[f64], nt: usize) -> Result<Mat<f64>> {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let np = x.len();
    // the base gradient from the same mode every column starts from: a gradient carried over
    // from the line search sits at a mode converged from elsewhere, and its difference from
    // this one (~1e-10) would be divided by the step
    let g = model.laplace(&x[..nt], &x[nt..], true)?.gradient;
    let g = g.as_slice();
    let base_u = model.u.clone();
    let du = model.mode_derivatives();
    let canonical = model.canonical();
    let column = |m: &mut SparseGlmm, j: usize| -> Result<Vec<f64>> {
        let step = 1e-6 * x[j].abs().max(0.1);
        m.u.iter_mut().zip(&base_u).enumerate().for_each(|(i, (u, b))| *u = b + step * du[(i, j)]);
        let mut xt = x.to_vec();
        xt[j] += step;
        // with a canonical link the predicted mode is exact to first order (the Fisher and
        // observed weights coincide in `mode_derivatives`); otherwise iterate from it
        let e = if canonical { m.laplace_at_mode(&xt[..nt], &xt[nt..])? } else { m.laplace(&xt[..nt], &xt[nt..], true)? };
        Ok(e.gradient.iter().zip(g).map(|(a, b)| (a - b) / step).collect())
    };
    let threads = crate::numerics::par::threads().min(np);
    let cols: Vec<Vec<f64>> = if threads > 1 && model.hessian_in_parallel_pays() {
        // one worker on the model itself, each other one on a copy made up front (copies
        // made in parallel contend for fresh pages and cost more than columns); each worker
        // takes the next column not yet taken, so a worker whose core is shared with another
        // process takes fewer (each column starts from the same mode: who computes it does not
        // change it)
        let mut models: Vec<SparseGlmm> = (1..threads).map(|_| model.clone()).collect();
        let next = AtomicUsize::new(0);
        let slots: Vec<Mutex<Option<Result<Vec<f64>>>>> = (0..np).map(|_| Mutex::new(None)).collect();
        let pull = |m: &mut SparseGlmm| {
            let mut j = next.fetch_add(1, Ordering::Relaxed);
            while j < np {
                let c = column(m, j);
                *slots[j].lock().unwrap_or_else(|p| p.into_inner()) = Some(c);
                j = next.fetch_add(1, Ordering::Relaxed);
            }
        };
        rayon::scope(|s| {
            for m in models.iter_mut() {
                s.spawn(|_| pull(m));
            }
            pull(&mut *model);
        });
        slots.into_iter().map(|s| s.into_inner().unwrap_or_else(|p| p.into_inner()).unwrap_or(Err(crate::error::Error::Interrupted))).collect::<Result<Vec<_>>>()?
    } else {
        (0..np).map(|j| column(model, j)).collect::<Result<Vec<_>>>()?
    };
    model.u.copy_from_slice(&base_u);
    Ok(Mat::from_fn(np, np, |i, j| 0.5 * (cols[j][i] + cols[i][j])))
}

/// The Laplace deviance with its Hessian by `fd_hessian_laplace`.
struct LaplacePolish<'a> {
    model: &'a mut SparseGlmm,
    nt: usize,
}

impl Polishable for LaplacePolish<'_> {
    fn value_grad(&mut self, x: &[f64]) -> Result<(f64, Vec<f64>)> {
        self.model.laplace(&x[..self.nt], &x[self.nt..], true).map(|e| (e.deviance, e.gradient))
    }

    fn hessian(&mut self, x: &[f64], _g: &[f64]) -> Result<Mat<f64>> {
        fd_hessian_laplace(self.model, x, self.nt)
    }
}

#[allow(clippy::too_many_arguments)]
fn finish(model: &mut SparseGlmm, res: OptimResult, lower: &[f64], decrement: f64, hessian: Mat<f64>, theta: Vec<f64>, beta: Vec<f64>, vcov_beta: Mat<f64>, vcov_source: &'static str) -> Result<SparseGlmmFit> {
    let report = Convergence::judge(&res, lower, decrement, DECREMENT_TOL, GRAD_TOL_SINGULAR, None);
    // at the nAGQ = 0 solution β is at the joint mode, so this is also that criterion
    let deviance = model.laplace(&theta, &beta, false)?.deviance;
    let minv = model.cond_var_u()?;
    let (eta, mu, dev_resid) = model.fitted();
    let b = model.b_of(&model.u.clone());
    let cond_var = lambda_blocks(&model.structure().terms, model.lambda(), &minv, 1.0);
    Ok(SparseGlmmFit {
        theta,
        beta,
        deviance,
        report,
        hessian,
        vcov_beta,
        vcov_source,
        b,
        cond_var,
        eta,
        mu,
        dev_resid,
    })
}

/// The Fisher information of β from its inverse; None unless positive definite.
fn information(vcov: &Mat<f64>) -> Option<Mat<f64>> {
    let p = vcov.nrows();
    vcov.llt(Side::Lower).ok().map(|llt| llt.solve(Mat::<f64>::identity(p, p)))
}
