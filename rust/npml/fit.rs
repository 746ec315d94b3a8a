//! Fitting the NPML model: starting values, a monotone quasi-Newton ascent on the exact
//! log-likelihood, Newton polishing to a truly converged optimum, detection of points at
//! infinity, and the standard errors.
//!
//! Every accepted step satisfies the Armijo condition, so the log-likelihood never decreases
//! (mixcat's full scoring steps can leave the simplex and diverge to NaN; spec §8.6). A fit
//! counts as converged only when the gradient is finite and small and no point diverges.

use crate::error::{Error, Result};
use crate::npml::data::{OrdLink, OrdinalData};
use crate::npml::model::{NpmlModel, NpmlParams};
use crate::npml::ridge::{PointIssue, point_issues};
use crate::npml::se::{NpmlSe, SeKind, information, invert_spd, standard_errors};
use crate::numerics::ghq::GhRule;
use crate::numerics::optim::{OptimOptions, Start, fd_hessian_central, line_search, minimize, newton_direction};
use crate::numerics::polish::{ROUNDING, full_step};

/// Gradient (log-likelihood units) at which the quasi-Newton phase hands over to Newton.
const BFGS_GTOL: f64 = 1e-6;
/// Converged: every |∂ℓ/∂θ| at most this, or the Newton decrement below `DECREMENT_TOL`.
const GTOL: f64 = 1e-6;
/// Newton decrement (ℓ units) at which a fit is converged; so is one below the rounding of ℓ
/// itself (relative `ROUNDING`), since with 100,000 observations no step can show less.
const DECREMENT_TOL: f64 = 1e-12;
const POLISH_STEPS: usize = 8;
/// Largest Newton step in any coordinate (a trust region against near-flat directions).
const MAX_NEWTON_STEP: f64 = 5.0;

/// Options of a fit (defaults live in Python).
#[derive(Clone, Debug)]
pub struct NpmlOptions {
    pub max_iter: usize,
    pub se: SeKind,
    /// starting values; default: the K = 1 fit for (α, β) and the K-point Gauss–Hermite rule
    /// for the points (in every dimension) and masses, as mixcat starts
    pub start: Option<NpmlParams>,
}

/// Everything a fit produces.
#[derive(Clone, Debug)]
pub struct NpmlFit {
    pub params: NpmlParams,
    pub loglik: f64,
    pub max_grad: f64,
    pub converged: bool,
    pub iterations: usize,
    pub evaluations: usize,
    pub message: String,
    pub warnings: Vec<String>,
    /// indices of the points at infinity
    pub ridge_points: Vec<usize>,
    /// posterior weights w_il, m × K row-major
    pub posterior: Vec<f64>,
    pub se: NpmlSe,
    /// ℓ_i of each cluster
    pub cluster_loglik: Vec<f64>,
}

/// Marginal logits: the K = 1 model without covariates.
fn marginal_alpha(data: &OrdinalData) -> Vec<f64> {
    let q = data.q;
    let mut counts = vec![0.5; q + 1];
    data.y.iter().for_each(|&y| counts[y as usize] += 1.0);
    let total: f64 = counts.iter().sum();
    match data.link {
        OrdLink::CLogit => (0..q).map(|c| { let p = counts[..=c].iter().sum::<f64>() / total; (p / (1.0 - p)).ln() }).collect(),
        OrdLink::BLogit => (0..q).map(|c| (counts[c] / counts[q]).ln()).collect(),
    }
}

/// mixcat's starting distribution: nodes and weights of the K-point Gauss–Hermite rule for
/// N(0, 1), the same nodes in every dimension.
pub fn gh_start(k: usize, d: usize) -> (Vec<f64>, Vec<f64>) {
    let rule = GhRule::new(k);
    let points = (0..k * d).map(|i| rule.nodes[i / d]).collect();
    (points, rule.weights)
}

/// Where an optimisation stopped.
pub(crate) struct Optimum {
    pub theta: Vec<f64>,
    pub f: f64,
    pub grad: Vec<f64>,
    pub iterations: usize,
    pub evaluations: usize,
    pub converged: bool,
}

/// Quasi-Newton ascent, then Newton steps on a finite-difference Hessian of the analytic
/// gradient (skipped when `polish` is false). `max_iter` counts both.
/// The quasi-Newton search starts from the BHHH approximation of the Hessian at θ₀ (one
/// pass over the clusters), not from the identity.
fn optimise(model: &NpmlModel, theta0: &[f64], max_iter: usize, polish: bool) -> Result<Optimum> {
    let seed = model.bhhh(theta0)?;
    let seed = seed.llt(faer::Side::Lower).is_ok().then_some(seed);
    optimise_with(&mut |t: &[f64]| model.objective(t), theta0, max_iter, polish, seed)
}

/// [`optimise`] for any objective returning (f, ∇f).
pub(crate) fn optimise_with(fg: &mut crate::numerics::optim::Objective, theta0: &[f64], max_iter: usize, polish: bool, hessian: Option<faer::Mat<f64>>) -> Result<Optimum> {
    let lower = vec![f64::NEG_INFINITY; theta0.len()];
    let start = Start { x: theta0.to_vec(), fg: None, hessian };
    let r = minimize(fg, start, &lower, &OptimOptions { gtol: BFGS_GTOL, dtol: 0.0, noise: 0.0, max_iter })?;
    let mut o = Optimum { theta: r.x, f: r.f, grad: r.grad, iterations: r.iterations, evaluations: r.evaluations, converged: false };
    if polish {
        for _ in 0..POLISH_STEPS {
            crate::numerics::cancel::check()?;
            if o.iterations >= max_iter || small(&o.grad, GTOL) {
                break;
            }
            let h = fd_hessian_central(fg, &o.theta)?;
            o.evaluations += 2 * o.theta.len();
            let Some(mut dir) = newton_direction(&h, &o.theta, &o.grad, &lower) else { break };
            let decrement: f64 = -dir.iter().zip(&o.grad).map(|(d, g)| d * g).sum::<f64>();
            if decrement <= DECREMENT_TOL {
                o.converged = true;
                break;
            }
            // ℓ is at its maximum to within its own rounding (a line search cannot see a smaller
            // increase): converged; the whole Newton step is taken if it shrinks the gradient
            let below_rounding = decrement <= ROUNDING * o.f.abs();
            let longest = dir.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            if longest > MAX_NEWTON_STEP {
                dir.iter_mut().for_each(|v| *v *= MAX_NEWTON_STEP / longest);
            }
            let step = if below_rounding {
                o.converged = true;
                full_step(fg, &o.theta, &o.grad, &dir, &lower)?
            } else {
                line_search(fg, &o.theta, o.f, &o.grad, &dir, &lower, 1.0, 0.0)?
            };
            let Some((x, f, g, evals)) = step else { break };
            (o.theta, o.f, o.grad) = (x, f, g);
            o.evaluations += evals;
            o.iterations += 1;
            if below_rounding {
                break;
            }
        }
    }
    o.converged |= small(&o.grad, GTOL);
    Ok(o)
}

/// All components finite and at most `tol` in absolute value (NaN is never small).
pub(crate) fn small(g: &[f64], tol: f64) -> bool {
    g.iter().all(|v| v.abs() <= tol)
}

/// The K = 1 (fixed-effects) fit, used as the start of α and β (and, for K = 1, polished
/// again by the caller).
pub(crate) fn fixed_start(data: &OrdinalData, max_iter: usize) -> Result<(Vec<f64>, Vec<f64>)> {
    let model = NpmlModel::new(data.clone(), 1);
    let mut theta0 = marginal_alpha(data);
    theta0.resize(model.n_theta(), 0.0);
    let o = optimise(&model, &theta0, max_iter, false)?;
    let p = model.unpack(&o.theta);
    Ok((p.alpha, p.beta))
}

/// Fit the model.
pub fn fit_npml(model: &NpmlModel, opts: &NpmlOptions) -> Result<NpmlFit> {
    let (k, d) = (model.k, model.data.d);
    if k > model.data.n_clusters() {
        return Err(Error::bad_input(format!("k = {k} support points need at least {k} clusters; the data have {}", model.data.n_clusters())));
    }
    let start = match &opts.start {
        Some(s) => s.clone(),
        None => {
            let (alpha, beta) = fixed_start(&model.data, opts.max_iter.max(50))?;
            let (points, masses) = gh_start(k, d);
            NpmlParams { alpha, beta, points, masses }
        }
    };
    let theta0 = model.pack(&start);
    if !model.objective(&theta0)?.0.is_finite() {
        return Err(Error::NonFiniteStart { what: "the log-likelihood at the starting values (crossed cutpoints?)".into() });
    }
    let first = optimise(model, &theta0, opts.max_iter, false)?;
    let p = model.unpack(&first.theta);
    let issues = point_issues(model, &p, &model.posterior(&p)?);
    let ridge = issues.iter().any(|i| matches!(i, PointIssue::Ridge { .. }));
    let o = if ridge || first.iterations >= opts.max_iter {
        first
    } else {
        let budget = opts.max_iter - first.iterations;
        let mut o = optimise(model, &first.theta, budget.max(1), true)?;
        o.iterations += first.iterations;
        o.evaluations += first.evaluations;
        o
    };
    finish(model, o, opts)
}

fn finish(model: &NpmlModel, o: Optimum, opts: &NpmlOptions) -> Result<NpmlFit> {
    let p = model.unpack(&o.theta);
    let post = model.posterior(&p)?;
    let issues = point_issues(model, &p, &post);
    let mut per = vec![0.0; model.data.n_clusters()];
    let (loglik, _) = model.loglik(&p, false, &mut per)?;
    let mut warnings: Vec<String> = issues.iter().map(|i| describe(i, &p, model.data.d)).collect();
    let ridge_points: Vec<usize> = issues.iter().filter_map(|i| if let PointIssue::Ridge { point, .. } = i { Some(*point) } else { None }).collect();
    let vcov = if ridge_points.is_empty() {
        invert_spd(&information(model, &p, opts.se)?)
    } else {
        warnings.push("standard errors are not reported: the likelihood has no finite maximiser along the ridge".into());
        faer::Mat::from_fn(model.n_mixcat(), model.n_mixcat(), |_, _| f64::NAN)
    };
    let se = standard_errors(model, &p, vcov);
    if ridge_points.is_empty() && se.alpha.iter().chain(&se.beta).any(|v| !v.is_finite()) {
        warnings.push("the information matrix is singular: standard errors are NaN".into());
    }
    let max_grad = o.grad.iter().fold(0.0f64, |m, v| if v.is_nan() { f64::NAN } else { m.max(v.abs()) });
    let converged = o.converged && ridge_points.is_empty() && loglik.is_finite();
    let message = if !ridge_points.is_empty() {
        "a support point diverges along a ridge: -2 log L converged to its supremum, which no finite estimate attains".to_string()
    } else if converged {
        "converged".to_string()
    } else if o.iterations >= opts.max_iter {
        format!("iteration limit ({}) reached; max |gradient| {max_grad:.3e}", opts.max_iter)
    } else {
        format!("the optimiser stopped without meeting the convergence test; max |gradient| {max_grad:.3e}")
    };
    Ok(NpmlFit { params: p, loglik, max_grad, converged, iterations: o.iterations, evaluations: o.evaluations, message, warnings, ridge_points, posterior: post, se, cluster_loglik: per })
}

fn describe(issue: &PointIssue, p: &NpmlParams, d: usize) -> String {
    match issue {
        PointIssue::Ridge { point, info_per_cluster, dir } => {
            let b = &p.points[point * d..(point + 1) * d];
            format!(
                "mass point {} runs off to infinity along a flat ridge of the likelihood (now at {:?}, information {:.1e} per cluster in direction {:?}); its location and the parameters confounded with it are not identified",
                point + 1,
                b.iter().map(|v| (v * 1e3).round() / 1e3).collect::<Vec<_>>(),
                info_per_cluster,
                dir.iter().map(|v| (v * 1e3).round() / 1e3).collect::<Vec<_>>()
            )
        }
        PointIssue::Empty { point, n_eff } => format!(
            "mass point {} carries almost no mass (posterior weight {:.2e} clusters): the distribution needs fewer points",
            point + 1,
            n_eff
        ),
    }
}
