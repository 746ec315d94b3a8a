//! Fitting a GLMM: starting values, the outer optimisation on the analytic gradient, Newton
//! polishing with a finite-difference Hessian, the covariance of β̂, and an honest report of
//! convergence.
//!
//! nAGQ ≥ 1 optimises (θ, β) jointly on the Laplace/AGQ deviance (lme4's second stage);
//! nAGQ = 0 optimises θ alone with β at the joint mode (lme4's first stage).

use crate::error::{Error, Result};
use crate::family::glm::glm_start;
use crate::glmm::conditional::{Conditional, conditional};
use crate::glmm::model::GlmmModel;
use crate::glmm::nagq0;
use crate::glmm::shared::{DECREMENT_TOL, GRAD_TOL_SINGULAR, bfgs_options, hessian_vcov, initial_hessian, polish_options};
use crate::numerics::optim::{OptimResult, Start, minimize};
use crate::numerics::polish::{ByDifferences, Convergence, polish};
use faer::Mat;

/// Options of a GLMM fit, with one grouping factor (`fit`) or several
/// (`sparse::fit::fit`); defaults live in Python.
#[derive(Clone, Debug)]
pub struct FitOptions {
    pub n_agq: usize,
    pub max_iter: usize,
    pub theta0: Option<Vec<f64>>,
    pub beta0: Option<Vec<f64>>,
}

/// Everything a fit produces.
#[derive(Clone, Debug)]
pub struct GlmmFit {
    pub theta: Vec<f64>,
    pub beta: Vec<f64>,
    /// −2 log L at the estimates
    pub deviance: f64,
    /// the optimisation's end; its gradient is the deviance's in (θ, β) (θ only for nAGQ = 0)
    pub report: Convergence,
    /// Hessian of the deviance in the optimised parameters
    pub hessian: Option<Mat<f64>>,
    /// covariance of β̂
    pub vcov_beta: Mat<f64>,
    /// "hessian", "fisher" or "none": where `vcov_beta` came from
    pub vcov_source: &'static str,
    pub conditional: Conditional,
}

/// Fit the model.
pub fn fit(model: &mut GlmmModel, opts: &FitOptions) -> Result<GlmmFit> {
    let mut theta0 = opts.theta0.clone().unwrap_or_else(|| model.template.theta_start());
    let beta0 = match &opts.beta0 {
        Some(b) => b.clone(),
        None => glm_start(&model.data, model.family, model.link)?,
    };
    if theta0.len() != model.n_theta() || beta0.len() != model.p() {
        return Err(Error::bad_input("starting values have the wrong length"));
    }
    off_the_boundary(&mut theta0, &model.template.lower_bounds());
    if opts.n_agq == 0 { fit_nagq0(model, theta0, beta0, opts) } else { fit_agq(model, theta0, beta0, opts) }
}

/// The deviance is even in each diagonal entry of Λ, so its gradient there is exactly zero
/// at θ = 0 and no gradient method can leave that point: a search must not start on it.
/// Such starting values (e.g. a warm start from a singular fit) move to lme4's start, 1.
fn off_the_boundary(theta: &mut [f64], lower: &[f64]) {
    for (t, &l) in theta.iter_mut().zip(lower) {
        if l == 0.0 && t.abs() < BOUNDARY {
            *t = 1.0;
        }
    }
}

/// A diagonal θ this close to zero is on the boundary.
const BOUNDARY: f64 = 1e-8;

/// Diagonal θ stuck at zero although the deviance curves downwards there (a saddle, not a
/// minimum on the boundary): where to restart the search, if anywhere.
fn boundary_saddle(hessian: &Mat<f64>, x: &[f64], lower: &[f64], nt: usize) -> Option<Vec<f64>> {
    let stuck: Vec<usize> = (0..nt).filter(|&k| lower[k] == 0.0 && x[k].abs() < BOUNDARY && hessian[(k, k)] < 0.0).collect();
    if stuck.is_empty() {
        return None;
    }
    let mut restart = x.to_vec();
    stuck.iter().for_each(|&k| restart[k] = 1.0);
    Some(restart)
}

type Search = (OptimResult, Mat<f64>, f64);

/// One search from `x0` (seeded quasi-Newton, then Newton polishing), then once more from
/// off the boundary if it stopped on a saddle at θ = 0; the better of the two.
fn search(fg: &mut dyn FnMut(&[f64]) -> Result<(f64, Vec<f64>)>, x0: Vec<f64>, lower: &[f64], nt: usize, opts: &FitOptions, seed_hessian: &mut SeedHessian) -> Result<Search> {
    let mut evaluations = 0;
    let mut counted = |x: &[f64]| {
        evaluations += 1;
        fg(x)
    };
    let first = search_once(&mut counted, x0, lower, opts, seed_hessian)?;
    let mut best = match boundary_saddle(&first.1, &first.0.x, lower, nt) {
        None => first,
        Some(restart) => {
            let second = search_once(&mut counted, restart, lower, opts, seed_hessian)?;
            let iterations = first.0.iterations + second.0.iterations;
            let mut best = if second.0.f < first.0.f { second } else { first };
            best.0.iterations = iterations;
            best
        }
    };
    best.0.evaluations = evaluations;
    Ok(best)
}

/// How a search seeds its quasi-Newton Hessian from (x0, ∇f(x0)).
type SeedHessian<'a> = dyn FnMut(&mut dyn FnMut(&[f64]) -> Result<(f64, Vec<f64>)>, &[f64], &[f64]) -> Result<Option<Mat<f64>>> + 'a;

fn search_once(fg: &mut dyn FnMut(&[f64]) -> Result<(f64, Vec<f64>)>, x0: Vec<f64>, lower: &[f64], opts: &FitOptions, seed_hessian: &mut SeedHessian) -> Result<Search> {
    let f0 = fg(&x0)?;
    let hessian = seed_hessian(fg, &x0, &f0.1)?;
    let start = Start { x: x0, fg: Some(f0), hessian };
    let mut res = minimize(fg, start, lower, &bfgs_options(opts.max_iter))?;
    let (hessian, decrement) = polish(&mut ByDifferences(fg), &mut res, lower, polish_options(opts.max_iter))?;
    Ok((res, hessian, decrement))
}

fn fit_agq(model: &mut GlmmModel, theta0: Vec<f64>, beta0: Vec<f64>, opts: &FitOptions) -> Result<GlmmFit> {
    let nt = model.n_theta();
    let lower: Vec<f64> = model.template.lower_bounds().into_iter().chain(std::iter::repeat(f64::NEG_INFINITY).take(model.p())).collect();
    let x0: Vec<f64> = theta0.into_iter().chain(beta0).collect();
    let n_agq = opts.n_agq;
    let fisher = nagq0::schur_pass(model, &model.template.lambda(&x0[..nt]), &x0[nt..], nagq0::Curvature::Fisher)?.full();
    let mut fg = |x: &[f64]| model.deviance(&x[..nt], &x[nt..], n_agq, true).map(|e| (e.deviance, e.gradient));
    let mut seed = |fg: &mut dyn FnMut(&[f64]) -> Result<(f64, Vec<f64>)>, x: &[f64], g: &[f64]| initial_hessian(fg, x, g, nt, &fisher);
    let (res, hessian, decrement) = search(&mut fg, x0, &lower, nt, opts, &mut seed)?;
    let cond = conditional(model, &res.x[..nt], &res.x[nt..])?;
    let (vcov_beta, vcov_source) = match hessian_vcov(&hessian, nt) {
        Some(v) => (v, "hessian"),
        None => fisher_vcov(&cond),
    };
    Ok(report(res, &lower, decrement, Some(hessian), vcov_beta, vcov_source, cond, nt))
}

fn fit_nagq0(model: &mut GlmmModel, theta0: Vec<f64>, beta0: Vec<f64>, opts: &FitOptions) -> Result<GlmmFit> {
    let nt = model.n_theta();
    let lower = model.template.lower_bounds();
    let mut beta = beta0;
    let mut fg = |theta: &[f64]| nagq0::deviance(model, theta, &mut beta, true).map(|e| (e.deviance, e.gradient));
    let mut seed = |_: &mut dyn FnMut(&[f64]) -> Result<(f64, Vec<f64>)>, _: &[f64], _: &[f64]| Ok(None);
    let (mut res, hessian, decrement) = search(&mut fg, theta0, &lower, nt, opts, &mut seed)?;
    drop(fg);
    nagq0::deviance(model, &res.x, &mut beta, false)?;
    let cond = conditional(model, &res.x, &beta)?;
    let (vcov_beta, vcov_source) = fisher_vcov(&cond);
    res.x.extend_from_slice(&beta);
    Ok(report(res, &lower, decrement, Some(hessian), vcov_beta, vcov_source, cond, nt))
}

/// (RX'RX)⁻¹ with Fisher weights: lme4's covariance of β̂ without a Hessian; NaN (source
/// "none") when that information is singular too, as with separated data.
fn fisher_vcov(cond: &Conditional) -> (Mat<f64>, &'static str) {
    match cond.fisher.inverse() {
        Some(v) => (v, "fisher"),
        None => {
            let p = cond.fisher.score.len();
            (Mat::from_fn(p, p, |_, _| f64::NAN), "none")
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn report(res: OptimResult, lower: &[f64], decrement: f64, hessian: Option<Mat<f64>>, vcov_beta: Mat<f64>, vcov_source: &'static str, conditional: Conditional, nt: usize) -> GlmmFit {
    GlmmFit {
        report: Convergence::judge(&res, lower, decrement, DECREMENT_TOL, GRAD_TOL_SINGULAR, None),
        theta: res.x[..nt].to_vec(),
        beta: res.x[nt..].to_vec(),
        deviance: res.f,
        hessian,
        vcov_beta,
        vcov_source,
        conditional,
    }
}
