//! The Python boundary (the only file that knows PyO3): input checking, GIL release, thread
//! pools, error mapping, and results as NumPy arrays.

use crate::batch::{self, ReplicateFit};
use crate::cluster::Clustered;
use crate::error::Error;
use crate::family::{Family, Link};
use crate::fit::{FitOptions, GlmmFit, fit};
use crate::glmm::GlmmModel;
use crate::glmm_refit::GlmmRefit;
use crate::rng::replicate_rng;
use crate::simulate::{check_simulable, simulate_internal};
use crate::nagq0;
use crate::remat::ReTemplate;
use numpy::{PyArray1, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::create_exception;
use pyo3::exceptions::{PyArithmeticError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

create_exception!(_core, ModelSpecError, PyValueError, "The model or its data are specified wrongly.");
create_exception!(_core, NumericalError, PyArithmeticError, "A numerical step failed.");
create_exception!(_core, ConvergenceError, PyRuntimeError, "The optimiser could not produce an estimate.");

impl From<Error> for PyErr {
    fn from(e: Error) -> PyErr {
        match e {
            Error::BadInput { .. } | Error::BadLink { .. } => ModelSpecError::new_err(e.to_string()),
            Error::NotPositiveDefinite { .. } | Error::PirlsStepHalving { .. } => NumericalError::new_err(e.to_string()),
            Error::NonFiniteStart { .. } => ConvergenceError::new_err(e.to_string()),
        }
    }
}

/// Run `f` without the GIL, on `threads` threads (all cores when None), turning a panic into
/// a NumericalError instead of letting it cross into Python.
fn run_detached<T: Send>(py: Python<'_>, threads: Option<usize>, f: impl FnOnce() -> Result<T, Error> + Send) -> PyResult<T> {
    let outcome = py.detach(move || {
        catch_unwind(AssertUnwindSafe(move || match threads {
            None => f().map_err(PyErr::from),
            Some(k) => rayon::ThreadPoolBuilder::new()
                .num_threads(k.max(1))
                .build()
                .map_err(|e| NumericalError::new_err(format!("cannot start {k} threads: {e}")))?
                .install(f)
                .map_err(PyErr::from),
        }))
    });
    outcome.unwrap_or_else(|panic| {
        let what = panic.downcast_ref::<String>().cloned().or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_default();
        Err(NumericalError::new_err(format!("internal error in the glmmx core: {what}")))
    })
}

fn slice<'a>(name: &str, a: &'a PyReadonlyArray1<'_, f64>) -> PyResult<&'a [f64]> {
    a.as_slice().map_err(|_| ModelSpecError::new_err(format!("{name} must be a contiguous, aligned float64 array")))
}

/// Column-major data of a Fortran-ordered (n × k) array.
fn fortran<'a>(name: &str, a: &'a PyReadonlyArray2<'_, f64>) -> PyResult<(&'a [f64], usize)> {
    let k = a.shape()[1];
    if !(a.is_fortran_contiguous() || k <= 1) {
        return Err(ModelSpecError::new_err(format!("{name} must be a Fortran-ordered float64 matrix")));
    }
    Ok((a.as_slice().map_err(|_| ModelSpecError::new_err(format!("{name} must be contiguous")))?, k))
}

fn vec_out<'py>(py: Python<'py>, v: Vec<f64>) -> Py<PyArray1<f64>> {
    PyArray1::from_vec(py, v).unbind()
}

/// A row-major (rows × cols) vector as a 2-D array.
fn mat_rows_out(py: Python<'_>, v: Vec<f64>, rows: usize, cols: usize) -> PyResult<Py<PyAny>> {
    Ok(PyArray1::from_vec(py, v).reshape([rows, cols])?.into_any().unbind())
}

fn mat_out<'py>(py: Python<'py>, m: &faer::Mat<f64>) -> PyResult<Py<PyAny>> {
    let (r, c) = (m.nrows(), m.ncols());
    let flat: Vec<f64> = (0..r).flat_map(|i| (0..c).map(move |j| (i, j))).map(|(i, j)| m[(i, j)]).collect();
    Ok(PyArray1::from_vec(py, flat).reshape([r, c])?.into_any().unbind())
}

/// A GLMM with one grouping factor, data prepared once.
#[pyclass(name = "GlmmModel", module = "glmmx._core")]
pub struct PyGlmmModel {
    inner: GlmmModel,
}

#[pymethods]
impl PyGlmmModel {
    #[new]
    #[allow(clippy::too_many_arguments)]
    fn new(
        y: PyReadonlyArray1<'_, f64>,
        weights: PyReadonlyArray1<'_, f64>,
        offset: PyReadonlyArray1<'_, f64>,
        x: PyReadonlyArray2<'_, f64>,
        z: PyReadonlyArray2<'_, f64>,
        group: PyReadonlyArray1<'_, u32>,
        n_groups: usize,
        group_freq: PyReadonlyArray1<'_, f64>,
        theta_rows: PyReadonlyArray1<'_, u32>,
        theta_cols: PyReadonlyArray1<'_, u32>,
        family: &str,
        link: &str,
    ) -> PyResult<Self> {
        let (xs, p) = fortran("X", &x)?;
        let (zs, d) = fortran("Z", &z)?;
        let group = group.as_slice().map_err(|_| ModelSpecError::new_err("group must be a contiguous uint32 array"))?;
        let rows = theta_rows.as_slice().map_err(|_| ModelSpecError::new_err("theta_rows must be contiguous"))?;
        let cols = theta_cols.as_slice().map_err(|_| ModelSpecError::new_err("theta_cols must be contiguous"))?;
        let data = Clustered::new(slice("y", &y)?, slice("weights", &weights)?, slice("offset", &offset)?, xs, p, zs, d, group, n_groups, slice("group_freq", &group_freq)?)?;
        let template = ReTemplate::new(d, rows, cols)?;
        let inner = GlmmModel::new(data, Family::parse(family)?, Link::parse(link)?, template)?;
        Ok(PyGlmmModel { inner })
    }

    /// Number of covariance parameters.
    #[getter]
    fn n_theta(&self) -> usize {
        self.inner.n_theta()
    }

    /// Number of clusters.
    #[getter]
    fn n_clusters(&self) -> usize {
        self.inner.data.n_clusters()
    }

    /// Σ of the likelihood constants (binomial coefficients, −log y!).
    #[getter]
    fn loglik_constant(&self) -> f64 {
        self.inner.loglik_constant
    }

    /// Lower bounds of θ.
    fn theta_lower<'py>(&self, py: Python<'py>) -> Py<PyArray1<f64>> {
        vec_out(py, self.inner.template.lower_bounds())
    }

    /// −2 log L at (θ, β) and its gradient in (θ, β) (empty unless `gradient`).
    #[pyo3(signature = (theta, beta, *, n_agq, gradient))]
    fn deviance<'py>(&mut self, py: Python<'py>, theta: Vec<f64>, beta: Vec<f64>, n_agq: usize, gradient: bool) -> PyResult<(f64, Py<PyArray1<f64>>)> {
        self.check_lengths(&theta, &beta)?;
        let model = &mut self.inner;
        let e = run_detached(py, None, move || model.deviance(&theta, &beta, n_agq, gradient))?;
        Ok((e.deviance, vec_out(py, e.gradient)))
    }

    /// The nAGQ = 0 criterion at θ with β moved to the joint mode (starting from `beta`):
    /// (deviance, gradient in θ, β at the joint mode).
    fn deviance_nagq0<'py>(&mut self, py: Python<'py>, theta: Vec<f64>, beta: Vec<f64>) -> PyResult<(f64, Py<PyArray1<f64>>, Py<PyArray1<f64>>)> {
        self.check_lengths(&theta, &beta)?;
        let model = &mut self.inner;
        let (e, b) = run_detached(py, None, move || {
            let mut b = beta;
            nagq0::deviance(model, &theta, &mut b, true).map(|e| (e, b))
        })?;
        Ok((e.deviance, vec_out(py, e.gradient), vec_out(py, b)))
    }

    /// Fit the model.
    #[pyo3(signature = (*, n_agq, max_iter, theta0, beta0, threads))]
    fn fit<'py>(&mut self, py: Python<'py>, n_agq: usize, max_iter: usize, theta0: Option<Vec<f64>>, beta0: Option<Vec<f64>>, threads: Option<usize>) -> PyResult<PyGlmmFit> {
        let opts = FitOptions { n_agq, max_iter, theta0, beta0 };
        let model = &mut self.inner;
        let result = run_detached(py, threads, move || fit(model, &opts))?;
        PyGlmmFit::new(py, result, self.inner.loglik_constant, self.inner.data.d)
    }

    /// Conditional modes u (n_clusters × d): where every evaluation's inner Newton starts.
    #[getter]
    fn get_modes<'py>(&self, py: Python<'py>) -> PyResult<Py<PyAny>> {
        let d = self.inner.data.d;
        mat_rows_out(py, self.inner.modes.clone(), self.inner.modes.len() / d, d)
    }

    #[setter]
    fn set_modes(&mut self, modes: PyReadonlyArray2<'_, f64>) -> PyResult<()> {
        let m = modes.as_slice().map_err(|_| ModelSpecError::new_err("modes must be a C-contiguous float64 array"))?;
        if m.len() != self.inner.modes.len() {
            return Err(ModelSpecError::new_err(format!("modes needs {} values", self.inner.modes.len())));
        }
        self.inner.modes.copy_from_slice(m);
        Ok(())
    }

    /// `nsim` responses drawn at (θ, β), original row order: an (n, nsim) array; column k is
    /// replicate `first + k` of `seed`.
    #[pyo3(signature = (theta, beta, nsim, seed, first=0))]
    fn simulate<'py>(&self, py: Python<'py>, theta: Vec<f64>, beta: Vec<f64>, nsim: usize, seed: u64, first: u64) -> PyResult<Py<PyAny>> {
        self.check_lengths(&theta, &beta)?;
        let model = &self.inner;
        let n = model.data.n;
        let out = run_detached(py, Some(1), move || {
            check_simulable(model)?;
            let lambda = model.template.lambda(&theta);
            let mut out = vec![0.0; n * nsim];
            let mut internal = vec![0.0; n];
            for k in 0..nsim {
                simulate_internal(model, &lambda, &beta, &mut replicate_rng(seed, first + k as u64), &mut internal);
                for (row, &orig) in model.data.order.iter().enumerate() {
                    out[orig * nsim + k] = internal[row];
                }
            }
            Ok(out)
        })?;
        mat_rows_out(py, out, n, nsim)
    }

    /// Refit to many responses, in parallel, each fit started at (θ, β) and the current
    /// conditional modes: the columns of `responses` (n × nsim), or, when it is None, `nsim`
    /// responses simulated at (θ, β) with `seed` (replicates first, first + 1, ..., each
    /// from its own stream, as `simulate` draws them).
    #[pyo3(signature = (theta, beta, *, responses, nsim, seed, first, n_agq, max_iter, threads, progress))]
    #[allow(clippy::too_many_arguments)]
    fn refit_many<'py>(
        &self,
        py: Python<'py>,
        theta: Vec<f64>,
        beta: Vec<f64>,
        responses: Option<PyReadonlyArray2<'py, f64>>,
        nsim: usize,
        seed: u64,
        first: u64,
        n_agq: usize,
        max_iter: usize,
        threads: Option<usize>,
        progress: Option<PyRef<'py, Progress>>,
    ) -> PyResult<Py<PyAny>> {
        self.check_lengths(&theta, &beta)?;
        let n = self.inner.data.n;
        let columns = match &responses {
            Some(r) if r.shape()[0] != n => return Err(ModelSpecError::new_err(format!("responses must have {n} rows (one per observation); got {}", r.shape()[0]))),
            Some(r) => Some((r.as_slice().map_err(|_| ModelSpecError::new_err("responses must be a C-contiguous float64 array"))?, r.shape()[1])),
            None => None,
        };
        let n_rep = columns.map_or(nsim, |c| c.1);
        let counter = progress.map(|p| p.done.clone()).unwrap_or_default();
        let model = &self.inner;
        let refit = GlmmRefit::new(model, theta.clone(), beta.clone(), n_agq, max_iter);
        let fits = run_detached(py, threads, move || {
            if columns.is_none() {
                check_simulable(model)?;
            }
            let lambda = model.template.lambda(&theta);
            let fill = |k: usize, y: &mut [f64]| -> Result<(), Error> {
                match columns {
                    Some((data, width)) => (0..n).for_each(|i| y[i] = data[i * width + k]),
                    None => {
                        let mut internal = vec![0.0; n];
                        simulate_internal(model, &lambda, &beta, &mut replicate_rng(seed, first + k as u64), &mut internal);
                        model.data.order.iter().enumerate().for_each(|(row, &orig)| y[orig] = internal[row]);
                    }
                }
                Ok(())
            };
            Ok(batch::run(&refit, n_rep, &fill, &counter))
        })?;
        replicate_table(py, fits, self.inner.p(), self.inner.n_theta())
    }
}

/// Count of finished replicates, readable from Python while a batch runs without the GIL.
#[pyclass(module = "glmmx._core", frozen)]
pub struct Progress {
    done: Arc<AtomicUsize>,
}

#[pymethods]
impl Progress {
    #[new]
    fn new() -> Self {
        Progress { done: Arc::new(AtomicUsize::new(0)) }
    }

    /// Replicates finished so far.
    #[getter]
    fn done(&self) -> usize {
        self.done.load(Ordering::Relaxed)
    }
}

/// Replicate results as a dict of arrays: estimates and std_errors (n_rep × p), parameters
/// (n_rep × n_par), loglik, converged, and messages.
fn replicate_table(py: Python<'_>, fits: Vec<ReplicateFit>, p: usize, n_par: usize) -> PyResult<Py<PyAny>> {
    let n_rep = fits.len();
    let widen = |v: &Vec<f64>, k: usize| -> Vec<f64> { if v.len() == k { v.clone() } else { vec![f64::NAN; k] } };
    let est: Vec<f64> = fits.iter().flat_map(|f| widen(&f.estimates, p)).collect();
    let se: Vec<f64> = fits.iter().flat_map(|f| widen(&f.std_errors, p)).collect();
    let par: Vec<f64> = fits.iter().flat_map(|f| widen(&f.parameters, n_par)).collect();
    let out = pyo3::types::PyDict::new(py);
    out.set_item("estimates", mat_rows_out(py, est, n_rep, p)?)?;
    out.set_item("std_errors", mat_rows_out(py, se, n_rep, p)?)?;
    out.set_item("parameters", mat_rows_out(py, par, n_rep, n_par)?)?;
    out.set_item("loglik", vec_out(py, fits.iter().map(|f| f.loglik).collect()))?;
    out.set_item("converged", fits.iter().map(|f| f.converged).collect::<Vec<bool>>())?;
    out.set_item("message", fits.into_iter().map(|f| f.message).collect::<Vec<String>>())?;
    Ok(out.into_any().unbind())
}

impl PyGlmmModel {
    fn check_lengths(&self, theta: &[f64], beta: &[f64]) -> PyResult<()> {
        if theta.len() != self.inner.n_theta() || beta.len() != self.inner.p() {
            return Err(ModelSpecError::new_err(format!(
                "theta needs {} values and beta {}; got {} and {}",
                self.inner.n_theta(),
                self.inner.p(),
                theta.len(),
                beta.len()
            )));
        }
        Ok(())
    }
}

/// A fitted GLMM as plain arrays; `glmmx.results` wraps it.
#[pyclass(name = "GlmmFit", module = "glmmx._core", frozen, get_all)]
pub struct PyGlmmFit {
    theta: Py<PyArray1<f64>>,
    beta: Py<PyArray1<f64>>,
    deviance: f64,
    loglik_constant: f64,
    gradient: Py<PyArray1<f64>>,
    max_grad: f64,
    converged: bool,
    iterations: usize,
    evaluations: usize,
    message: String,
    hessian: Option<Py<PyAny>>,
    vcov_beta: Py<PyAny>,
    vcov_source: String,
    fisher_info: Py<PyAny>,
    b: Py<PyAny>,
    cond_var: Py<PyAny>,
    eta: Py<PyArray1<f64>>,
    mu: Py<PyArray1<f64>>,
    dev_resid: Py<PyArray1<f64>>,
}

impl PyGlmmFit {
    fn new(py: Python<'_>, f: GlmmFit, loglik_constant: f64, d: usize) -> PyResult<Self> {
        let m = f.conditional.b.len() / d.max(1);
        let c = f.conditional;
        Ok(PyGlmmFit {
            theta: vec_out(py, f.theta),
            beta: vec_out(py, f.beta),
            deviance: f.deviance,
            loglik_constant,
            gradient: vec_out(py, f.gradient),
            max_grad: f.max_grad,
            converged: f.converged,
            iterations: f.iterations,
            evaluations: f.evaluations,
            message: f.message,
            hessian: f.hessian.as_ref().map(|h| mat_out(py, h)).transpose()?,
            vcov_beta: mat_out(py, &f.vcov_beta)?,
            vcov_source: f.vcov_source.to_string(),
            fisher_info: mat_out(py, &c.fisher.full())?,
            b: PyArray1::from_vec(py, c.b).reshape([m, d])?.into_any().unbind(),
            // blocks are column-major d × d; as (m, d, d) C-order this is each block transposed,
            // which is the same matrix because it is symmetric
            cond_var: PyArray1::from_vec(py, c.cond_var).reshape([m, d, d])?.into_any().unbind(),
            eta: vec_out(py, c.eta),
            mu: vec_out(py, c.mu),
            dev_resid: vec_out(py, c.dev_resid),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// npmlt: ordinal/nominal mixed models with a mass-point (NPML) or normal random effect
// ---------------------------------------------------------------------------------------------

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
fn fit_npmlt(
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
fn fit_npmlt_normal(
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
fn simulate_npmlt(
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
    let n = data.n;
    let out = run_detached(py, Some(1), move || {
        let mut out = vec![0.0; n * nsim];
        let mut draw = vec![0u32; n];
        for k in 0..nsim {
            crate::npml_refit::simulate(&data, &alpha, &beta, &mix, &mut replicate_rng(seed, first + k as u64), &mut draw);
            draw.iter().enumerate().for_each(|(row, &c)| out[row * nsim + k] = (c + 1) as f64);
        }
        Ok(out)
    })?;
    mat_rows_out(py, out, n, nsim)
}

/// Refit an npmlt model to many responses in parallel (columns of `responses`, categories
/// 1..Q in the data's row order, or `nsim` simulated ones): each mass-point fit starts at the
/// given estimates; normal fits adapt from the fixed-effects start.
#[pyfunction]
#[pyo3(signature = (y, q, x, npo, z, starts, *, link, alpha, beta, points, masses, chol, nagq, max_iter, se, responses, nsim, seed, first, threads, progress))]
#[allow(clippy::too_many_arguments)]
fn refit_npmlt_many<'py>(
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
    let columns = match &responses {
        Some(r) if r.shape()[0] != n => return Err(ModelSpecError::new_err(format!("responses must have {n} rows (one per observation); got {}", r.shape()[0]))),
        Some(r) => Some((r.as_slice().map_err(|_| ModelSpecError::new_err("responses must be a C-contiguous, aligned float64 array"))?, r.shape()[1])),
        None => None,
    };
    let n_rep = columns.map_or(nsim, |c| c.1);
    let counter = progress.map(|p| p.done.clone()).unwrap_or_default();
    let fits = run_detached(py, threads, move || {
        let fill = |k: usize, out: &mut [f64]| -> Result<(), Error> {
            match columns {
                Some((values, width)) => (0..n).for_each(|i| out[i] = values[i * width + k]),
                None => {
                    let mut draw = vec![0u32; n];
                    crate::npml_refit::simulate(&data, &alpha, &beta, &mix, &mut replicate_rng(seed, first + k as u64), &mut draw);
                    out.iter_mut().zip(&draw).for_each(|(o, &c)| *o = (c + 1) as f64);
                }
            }
            Ok(())
        };
        Ok(batch::run(&refit, n_rep, &fill, &counter))
    })?;
    replicate_table(py, fits, q + n_beta, n_par)
}

// --------------------------------------------------------------------------------------------- end npmlt

/// The compiled core of glmmx.
#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyGlmmModel>()?;
    m.add_class::<PyGlmmFit>()?;
    m.add_class::<Progress>()?;
    m.add_class::<PyNpmltFit>()?;
    m.add_function(wrap_pyfunction!(fit_npmlt, m)?)?;
    m.add_function(wrap_pyfunction!(fit_npmlt_normal, m)?)?;
    m.add_function(wrap_pyfunction!(simulate_npmlt, m)?)?;
    m.add_function(wrap_pyfunction!(refit_npmlt_many, m)?)?;
    m.add("ModelSpecError", m.py().get_type::<ModelSpecError>())?;
    m.add("NumericalError", m.py().get_type::<NumericalError>())?;
    m.add("ConvergenceError", m.py().get_type::<ConvergenceError>())?;
    Ok(())
}
