//! Bindings of npmlt: ordinal/nominal mixed models with a mass-point (NPML) or normal
//! random effect, their simulation and batch refits.

use super::{ModelSpecError, Progress, fortran, mat_out, mat_rows_out, run_batch, run_detached, simulated_matrix, vec_out};
use crate::npml_data::OrdinalData;
use crate::rng::replicate_rng;
use numpy::{PyArray1, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::prelude::*;

/// The ordinal data from Python arrays (rows sorted by cluster; `starts` has m + 1 entries).
#[allow(clippy::too_many_arguments)]
fn ordinal_data(y: &PyReadonlyArray1<'_, u32>, q: usize, x: &PyReadonlyArray2<'_, f64>, npo: &[bool], z: &PyReadonlyArray2<'_, f64>, starts: &[usize], link: &str) -> PyResult<crate::npml_data::OrdinalData> {
    let (xs, t) = fortran("X", x)?;
    let (zs, d) = fortran("Z", z)?;
    let ys = y.as_slice().map_err(|_| ModelSpecError::new_err("y must be a contiguous uint32 array"))?;
    Ok(crate::npml_data::OrdinalData::new(ys, q, xs, t, npo, zs, d, starts, crate::npml_data::OrdLink::parse(link)?)?)
}

/// A fitted npmlt model as plain arrays; `glmmx.npmlt_result` wraps it.
#[pyclass(name = "NpmltFit", module = "glmmx._core", frozen, get_all)]
pub struct PyNpmltFit {
    alpha: Py<PyArray1<f64>>,
    beta: Py<PyArray1<f64>>,
    mass_points: Py<PyAny>,
    masses: Py<PyArray1<f64>>,
    loglik: f64,
    max_grad: f64,
    converged: bool,
    iterations: usize,
    evaluations: usize,
    message: String,
    warnings: Vec<String>,
    ridge_points: Vec<usize>,
    posterior: Py<PyAny>,
    vcov: Py<PyAny>,
    se_alpha: Py<PyArray1<f64>>,
    se_beta: Py<PyArray1<f64>>,
    se_mass_points: Py<PyAny>,
    se_masses: Py<PyArray1<f64>>,
    se_re_var: Py<PyArray1<f64>>,
    cluster_loglik: Py<PyArray1<f64>>,
    /// normal random effects only: lower Cholesky factor of Σ (d × d), else None
    re_chol: Option<Py<PyAny>>,
}

impl PyNpmltFit {
    fn from_npml(py: Python<'_>, f: crate::npml_fit::NpmlFit, k: usize, d: usize) -> PyResult<Self> {
        let m = f.posterior.len() / k;
        Ok(PyNpmltFit {
            alpha: vec_out(py, f.params.alpha),
            beta: vec_out(py, f.params.beta),
            mass_points: mat_rows_out(py, f.params.points, k, d)?,
            masses: vec_out(py, f.params.masses),
            loglik: f.loglik,
            max_grad: f.max_grad,
            converged: f.converged,
            iterations: f.iterations,
            evaluations: f.evaluations,
            message: f.message,
            warnings: f.warnings,
            ridge_points: f.ridge_points,
            posterior: mat_rows_out(py, f.posterior, m, k)?,
            vcov: mat_out(py, &f.se.vcov)?,
            se_alpha: vec_out(py, f.se.alpha),
            se_beta: vec_out(py, f.se.beta),
            se_mass_points: mat_rows_out(py, f.se.points, k, d)?,
            se_masses: vec_out(py, f.se.masses),
            se_re_var: vec_out(py, f.se.variances),
            cluster_loglik: vec_out(py, f.cluster_loglik),
            re_chol: None,
        })
    }
}

/// Fit an NPML ordinal mixed model with `k` support points.
#[pyfunction]
#[pyo3(signature = (y, q, x, npo, z, starts, *, link, k, max_iter, se, start, threads))]
#[allow(clippy::too_many_arguments)]
pub(super) fn fit_npmlt(
    py: Python<'_>,
    y: PyReadonlyArray1<'_, u32>,
    q: usize,
    x: PyReadonlyArray2<'_, f64>,
    npo: Vec<bool>,
    z: PyReadonlyArray2<'_, f64>,
    starts: Vec<usize>,
    link: &str,
    k: usize,
    max_iter: usize,
    se: &str,
    start: Option<(Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>)>,
    threads: Option<usize>,
) -> PyResult<PyNpmltFit> {
    let data = ordinal_data(&y, q, &x, &npo, &z, &starts, link)?;
    let d = data.d;
    if k < 1 {
        return Err(ModelSpecError::new_err("k must be at least 1"));
    }
    let model = crate::npml_model::NpmlModel::new(data, k);
    let start = match start {
        Some((alpha, beta, points, masses)) => {
            if alpha.len() != q || beta.len() != model.data.n_beta() || points.len() != k * d || masses.len() != k {
                return Err(ModelSpecError::new_err(format!("start needs {q} intercepts, {} coefficients, {k} x {d} points and {k} masses", model.data.n_beta())));
            }
            Some(crate::npml_model::NpmlParams { alpha, beta, points, masses })
        }
        None => None,
    };
    let opts = crate::npml_fit::NpmlOptions { max_iter, se: crate::npml_se::SeKind::parse(se)?, start };
    let fit = run_detached(py, threads, || crate::npml_fit::fit_npml(&model, &opts))?;
    PyNpmltFit::from_npml(py, fit, k, d)
}

impl PyNpmltFit {
    fn from_normal(py: Python<'_>, f: crate::npml_normal::NormalFit, d: usize) -> PyResult<Self> {
        let m = f.cluster_loglik.len();
        Ok(PyNpmltFit {
            alpha: vec_out(py, f.alpha),
            beta: vec_out(py, f.beta),
            mass_points: mat_rows_out(py, vec![], 0, d)?,
            masses: vec_out(py, vec![]),
            loglik: f.loglik,
            max_grad: f.max_grad,
            converged: f.converged,
            iterations: f.iterations,
            evaluations: f.evaluations,
            message: f.message,
            warnings: vec![],
            ridge_points: vec![],
            posterior: mat_rows_out(py, f.eb, m, d)?,
            vcov: mat_out(py, &f.vcov)?,
            se_alpha: vec_out(py, f.se_alpha),
            se_beta: vec_out(py, f.se_beta),
            se_mass_points: mat_rows_out(py, vec![], 0, d)?,
            se_masses: vec_out(py, vec![]),
            se_re_var: vec_out(py, f.se_var),
            cluster_loglik: vec_out(py, f.cluster_loglik),
            // column-major lower factor read row-major: the transpose, fixed in Python
            re_chol: Some(mat_rows_out(py, f.chol, d, d)?),
        })
    }
}

/// Fit the ordinal model with a normal random effect by adaptive Gauss–Hermite quadrature.
#[pyfunction]
#[pyo3(signature = (y, q, x, npo, z, starts, *, link, nagq, max_iter, se, threads))]
#[allow(clippy::too_many_arguments)]
pub(super) fn fit_npmlt_normal(
    py: Python<'_>,
    y: PyReadonlyArray1<'_, u32>,
    q: usize,
    x: PyReadonlyArray2<'_, f64>,
    npo: Vec<bool>,
    z: PyReadonlyArray2<'_, f64>,
    starts: Vec<usize>,
    link: &str,
    nagq: usize,
    max_iter: usize,
    se: &str,
    threads: Option<usize>,
) -> PyResult<PyNpmltFit> {
    let data = ordinal_data(&y, q, &x, &npo, &z, &starts, link)?;
    let d = data.d;
    if nagq < 1 {
        return Err(ModelSpecError::new_err("nagq must be at least 1"));
    }
    let kind = crate::npml_se::SeKind::parse(se)?;
    let model = crate::npml_normal::NormalModel::new(data, nagq);
    let fit = run_detached(py, threads, || crate::npml_normal::fit_normal(&model, max_iter, kind))?;
    PyNpmltFit::from_normal(py, fit, d)
}

/// The random-effects distribution of a fitted npmlt model from Python: points (K × d) and
/// masses, or the lower Cholesky factor of Σ (d × d, row-major as NumPy holds it).
fn mixing(points: Option<PyReadonlyArray2<'_, f64>>, masses: Option<Vec<f64>>, chol: Option<PyReadonlyArray2<'_, f64>>) -> PyResult<crate::npml_refit::Mixing> {
    match (points, masses, chol) {
        (Some(p), Some(m), None) => Ok(crate::npml_refit::Mixing::Points { points: p.as_array().iter().copied().collect(), masses: m }),
        (None, None, Some(c)) => {
            let d = c.shape()[0];
            let a = c.as_array();
            Ok(crate::npml_refit::Mixing::Normal { chol: (0..d * d).map(|k| a[[k % d, k / d]]).collect() })
        }
        _ => Err(ModelSpecError::new_err("give either points and masses, or chol")),
    }
}

/// `nsim` responses (categories 1..Q, the data's row order) drawn from a fitted npmlt model:
/// an (n, nsim) array whose column k is replicate `first + k` of `seed`.
#[pyfunction]
#[pyo3(signature = (y, q, x, npo, z, starts, *, link, alpha, beta, points, masses, chol, nsim, seed, first))]
#[allow(clippy::too_many_arguments)]
pub(super) fn simulate_npmlt(
    py: Python<'_>,
    y: PyReadonlyArray1<'_, u32>,
    q: usize,
    x: PyReadonlyArray2<'_, f64>,
    npo: Vec<bool>,
    z: PyReadonlyArray2<'_, f64>,
    starts: Vec<usize>,
    link: &str,
    alpha: Vec<f64>,
    beta: Vec<f64>,
    points: Option<PyReadonlyArray2<'_, f64>>,
    masses: Option<Vec<f64>>,
    chol: Option<PyReadonlyArray2<'_, f64>>,
    nsim: usize,
    seed: u64,
    first: u64,
) -> PyResult<Py<PyAny>> {
    let data = ordinal_data(&y, q, &x, &npo, &z, &starts, link)?;
    let mix = mixing(points, masses, chol)?;
    let draw = simulator(&data, alpha, beta, mix, seed, first);
    simulated_matrix(py, data.n, nsim, || Ok(()), draw)
}

/// Replicate k's simulated response (categories 1..Q as numbers, the data's row order).
fn simulator(data: &OrdinalData, alpha: Vec<f64>, beta: Vec<f64>, mix: crate::npml_refit::Mixing, seed: u64, first: u64) -> impl Fn(u64, &mut [f64]) + Sync + Send + '_ {
    move |k, out| {
        let mut draw = vec![0u32; data.n];
        crate::npml_refit::simulate(data, &alpha, &beta, &mix, &mut replicate_rng(seed, first + k), &mut draw);
        out.iter_mut().zip(&draw).for_each(|(o, &c)| *o = (c + 1) as f64);
    }
}

/// Refit an npmlt model to many responses in parallel (columns of `responses`, categories
/// 1..Q in the data's row order, or `nsim` simulated ones): each mass-point fit starts at the
/// given estimates; normal fits adapt from the fixed-effects start.
#[pyfunction]
#[pyo3(signature = (y, q, x, npo, z, starts, *, link, alpha, beta, points, masses, chol, nagq, max_iter, se, responses, nsim, seed, first, threads, progress))]
#[allow(clippy::too_many_arguments)]
pub(super) fn refit_npmlt_many<'py>(
    py: Python<'py>,
    y: PyReadonlyArray1<'py, u32>,
    q: usize,
    x: PyReadonlyArray2<'py, f64>,
    npo: Vec<bool>,
    z: PyReadonlyArray2<'py, f64>,
    starts: Vec<usize>,
    link: &str,
    alpha: Vec<f64>,
    beta: Vec<f64>,
    points: Option<PyReadonlyArray2<'py, f64>>,
    masses: Option<Vec<f64>>,
    chol: Option<PyReadonlyArray2<'py, f64>>,
    nagq: usize,
    max_iter: usize,
    se: &str,
    responses: Option<PyReadonlyArray2<'py, f64>>,
    nsim: usize,
    seed: u64,
    first: u64,
    threads: Option<usize>,
    progress: Option<PyRef<'py, Progress>>,
) -> PyResult<Py<PyAny>> {
    let data = ordinal_data(&y, q, &x, &npo, &z, &starts, link)?;
    let mix = mixing(points, masses, chol)?;
    let (n, d, n_beta) = (data.n, data.d, data.n_beta());
    let se = crate::npml_se::SeKind::parse(se)?;
    let (refit, n_par) = match &mix {
        crate::npml_refit::Mixing::Points { points, masses } => {
            let start = crate::npml_model::NpmlParams { alpha: alpha.clone(), beta: beta.clone(), points: points.clone(), masses: masses.clone() };
            (crate::npml_refit::NpmlRefit::points(data.clone(), start, max_iter, se), masses.len() * (d + 1))
        }
        crate::npml_refit::Mixing::Normal { .. } => (crate::npml_refit::NpmlRefit::normal(data.clone(), nagq, max_iter, se), d * d),
    };
    let draw = simulator(&data, alpha, beta, mix, seed, first);
    run_batch(py, &refit, n, responses, nsim, threads, progress, || Ok(()), draw, (q + n_beta, n_par))
}
