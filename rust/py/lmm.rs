//! Bindings of the models with any number of random-effects terms: linear mixed models
//! (lmer) and GLMMs on the sparse machinery (glmer with several grouping factors).

use crate::error::Error;
use crate::family::{Family, Link};
use crate::glmm::fit::FitOptions;
use crate::glmm::sparse::fit::SparseGlmmFit;
use crate::glmm::sparse::model::SparseGlmm;
use crate::glmm::sparse::refit::{GlmmData, SparseGlmmRefit};
use crate::lmm::fit::{LmmFit, LmmFitOptions};
use crate::lmm::model::LmmModel;
use crate::lmm::refit::{LmmData, LmmRefit};
use crate::numerics::par::PARALLEL_MIN_WORK;
use crate::numerics::rng::replicate_rng;
use crate::terms::blocked::ReTermData;
use crate::terms::design::SharedDesign;
use numpy::{PyArray1, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;
use super::{Batch, Load, ModelSpecError, fortran, mat_out, run_batch, run_detached, simulated_matrix, slice, vec_out};

/// Random-effects terms from per-term level codes, level counts and Fortran-ordered Z blocks.
fn re_terms(codes: &[PyReadonlyArray1<'_, u32>], n_levels: &[usize], z: &[PyReadonlyArray2<'_, f64>]) -> PyResult<Vec<ReTermData>> {
    if codes.len() != n_levels.len() || codes.len() != z.len() {
        return Err(ModelSpecError::new_err("codes, n_levels and Z need one entry per random-effects term"));
    }
    let mut terms = Vec::with_capacity(codes.len());
    for (k, ((c, &nl), zk)) in codes.iter().zip(n_levels).zip(z).enumerate() {
        let c = c.as_slice().map_err(|_| ModelSpecError::new_err(format!("codes[{k}] must be a contiguous uint32 array")))?;
        let (zs, d) = fortran("Z", zk)?;
        let n = c.len();
        if zs.len() != n * d {
            return Err(ModelSpecError::new_err(format!("Z[{k}] must have {n} rows")));
        }
        let z_rows = (0..n).flat_map(|i| (0..d).map(move |j| zs[i + j * n])).collect();
        terms.push(ReTermData { codes: c.to_vec(), n_levels: nl, d, z: z_rows });
    }
    Ok(terms)
}

/// A linear mixed model with any number of random-effects terms, data prepared once.
#[pyclass(name = "LmmModel", module = "glmmx._core")]
pub struct PyLmmModel {
    inner: LmmModel,
}

#[pymethods]
impl PyLmmModel {
    #[new]
    fn new(
        y: PyReadonlyArray1<'_, f64>,
        weights: PyReadonlyArray1<'_, f64>,
        x: PyReadonlyArray2<'_, f64>,
        codes: Vec<PyReadonlyArray1<'_, u32>>,
        n_levels: Vec<usize>,
        z: Vec<PyReadonlyArray2<'_, f64>>,
    ) -> PyResult<Self> {
        let (xs, p, terms) = design(&x, &codes, &n_levels, &z)?;
        let inner = LmmModel::new(slice("y", &y)?, slice("weights", &weights)?, xs, p, terms, true)?;
        Ok(PyLmmModel { inner })
    }

    /// Number of covariance parameters.
    #[getter]
    fn n_theta(&self) -> usize {
        self.inner.n_theta()
    }

    /// (terms in the sparse part, size of the dense block).
    #[getter]
    fn layout(&self) -> (usize, usize) {
        (self.inner.structure.n_sparse_terms, self.inner.structure.n_t)
    }

    /// Lower bounds of θ.
    fn theta_lower<'py>(&self, py: Python<'py>) -> Py<PyArray1<f64>> {
        vec_out(py, self.inner.theta_lower())
    }

    /// The REML criterion (`reml`) or ML deviance at θ, and its gradient.
    #[pyo3(signature = (theta, *, reml))]
    fn objective<'py>(&mut self, py: Python<'py>, theta: Vec<f64>, reml: bool) -> PyResult<(f64, Py<PyArray1<f64>>)> {
        let (f, g) = self.detached(py, reml, None, |model| crate::lmm::fit::evaluate(model, &theta))?;
        Ok((f, vec_out(py, g)))
    }

    /// Fit by REML or ML.
    #[pyo3(signature = (*, reml, max_iter, theta0, threads))]
    fn fit<'py>(&mut self, py: Python<'py>, reml: bool, max_iter: usize, theta0: Option<Vec<f64>>, threads: Option<usize>) -> PyResult<PyLmmFit> {
        let opts = LmmFitOptions { max_iter, theta0 };
        let result = self.detached(py, reml, threads, |model| crate::lmm::fit::fit(model, &opts))?;
        PyLmmFit::new(py, result)
    }

    /// Var(b | y, β̂) per level at θ: d × d blocks, flat in global order.
    #[pyo3(signature = (theta, *, reml))]
    fn cond_var<'py>(&mut self, py: Python<'py>, theta: Vec<f64>, reml: bool) -> PyResult<Py<PyArray1<f64>>> {
        let v = self.detached(py, reml, None, |model| crate::lmm::fit::conditional_covariances(model, &theta))?;
        Ok(vec_out(py, v))
    }

    /// Hessian of the deviance in (θ, σ) and the derivatives of vcov(β̂) in (θ, σ), at θ.
    #[pyo3(signature = (theta, *, reml))]
    fn varpar_derivatives<'py>(&mut self, py: Python<'py>, theta: Vec<f64>, reml: bool) -> PyResult<(Py<PyAny>, Py<PyAny>)> {
        let v = self.detached(py, reml, None, |model| crate::lmm::satterthwaite::varpar_derivatives(model, &theta))?;
        let p = v.jacobian.first().map_or(0, |m| m.nrows());
        let k = v.jacobian.len();
        let flat: Vec<f64> = v.jacobian.iter().flat_map(|m| (0..p).flat_map(move |i| (0..p).map(move |j| m[(i, j)]))).collect();
        let jac = PyArray1::from_vec(py, flat).reshape([k, p, p])?.into_any().unbind();
        Ok((mat_out(py, &v.hessian)?, jac))
    }

    /// The replicates of the fit at (θ, β, σ): simulated responses and refits.
    #[pyo3(signature = (*, theta, beta, sigma))]
    fn replicates(&self, theta: Vec<f64>, beta: Vec<f64>, sigma: f64) -> PyResult<PyLmmReplicates> {
        let m = &self.inner;
        if theta.len() != m.n_theta() || beta.len() != m.p {
            return Err(ModelSpecError::new_err(format!("replicates need {} theta and {} beta values", m.n_theta(), m.p)));
        }
        let data = LmmData { design: SharedDesign::from_rows(&m.x, m.p, m.terms.clone()), w: m.w.clone() };
        Ok(PyLmmReplicates { data, theta, beta, sigma })
    }
}

impl PyLmmModel {
    /// `f` on the model set to the REML (`reml`) or ML criterion, run without the GIL.
    fn detached<T: Send>(&mut self, py: Python<'_>, reml: bool, threads: Option<usize>, f: impl FnOnce(&mut LmmModel) -> Result<T, Error> + Send) -> PyResult<T> {
        let load = Load::heavy_if(self.inner.n >= PARALLEL_MIN_WORK);
        let model = &mut self.inner;
        model.reml = reml;
        run_detached(py, threads, load, move || f(model))
    }
}

/// A fitted linear mixed model as plain arrays; `glmmx.lmer_result` wraps it.
#[pyclass(name = "LmmFit", module = "glmmx._core", frozen, get_all)]
pub struct PyLmmFit {
    theta: Py<PyArray1<f64>>,
    beta: Py<PyArray1<f64>>,
    sigma: f64,
    objective: f64,
    gradient: Py<PyArray1<f64>>,
    max_grad: f64,
    converged: bool,
    iterations: usize,
    evaluations: usize,
    message: String,
    hessian: Py<PyAny>,
    vcov_beta: Py<PyAny>,
    b: Py<PyArray1<f64>>,
    fitted: Py<PyArray1<f64>>,
    pwrss: f64,
    logdet_m: f64,
    logdet_x: f64,
}

impl PyLmmFit {
    fn new(py: Python<'_>, f: LmmFit) -> PyResult<Self> {
        Ok(PyLmmFit {
            theta: vec_out(py, f.theta),
            beta: vec_out(py, f.beta),
            sigma: f.sigma,
            objective: f.objective,
            gradient: vec_out(py, f.report.gradient),
            max_grad: f.report.max_grad,
            converged: f.report.converged,
            iterations: f.report.iterations,
            evaluations: f.report.evaluations,
            message: f.report.message,
            hessian: mat_out(py, &f.hessian)?,
            vcov_beta: mat_out(py, &f.vcov_beta)?,
            b: vec_out(py, f.b),
            fitted: vec_out(py, f.fitted),
            pwrss: f.pwrss,
            logdet_m: f.logdet_m,
            logdet_x: f.logdet_x,
        })
    }
}

/// A GLMM with any number of random-effects terms (crossed or nested grouping factors).
#[pyclass(name = "SparseGlmm", module = "glmmx._core")]
pub struct PySparseGlmm {
    inner: SparseGlmm,
}

#[pymethods]
impl PySparseGlmm {
    #[new]
    #[allow(clippy::too_many_arguments)]
    fn new(
        y: PyReadonlyArray1<'_, f64>,
        weights: PyReadonlyArray1<'_, f64>,
        offset: PyReadonlyArray1<'_, f64>,
        x: PyReadonlyArray2<'_, f64>,
        codes: Vec<PyReadonlyArray1<'_, u32>>,
        n_levels: Vec<usize>,
        z: Vec<PyReadonlyArray2<'_, f64>>,
        family: &str,
        link: &str,
    ) -> PyResult<Self> {
        let (xs, p, terms) = design(&x, &codes, &n_levels, &z)?;
        let inner = SparseGlmm::new(slice("y", &y)?, slice("weights", &weights)?, slice("offset", &offset)?, xs, p, terms, Family::parse(family)?, Link::parse(link)?)?;
        Ok(PySparseGlmm { inner })
    }

    /// Number of covariance parameters.
    #[getter]
    fn n_theta(&self) -> usize {
        self.inner.n_theta()
    }

    /// Σ of the likelihood constants.
    #[getter]
    fn loglik_constant(&self) -> f64 {
        self.inner.loglik_constant
    }

    /// Laplace deviance at (θ, β) and its gradient in (θ, β) (empty unless `gradient`).
    #[pyo3(signature = (theta, beta, *, gradient))]
    fn laplace<'py>(&mut self, py: Python<'py>, theta: Vec<f64>, beta: Vec<f64>, gradient: bool) -> PyResult<(f64, Py<PyArray1<f64>>)> {
        self.check_beta(&beta)?;
        let model = &mut self.inner;
        let e = run_detached(py, None, Load::Light, move || model.laplace(&theta, &beta, gradient))?;
        Ok((e.deviance, vec_out(py, e.gradient)))
    }

    /// The nAGQ = 0 criterion at θ (β to the joint mode from `beta`), its θ-gradient and β.
    fn nagq0<'py>(&mut self, py: Python<'py>, theta: Vec<f64>, beta: Vec<f64>) -> PyResult<(f64, Py<PyArray1<f64>>, Py<PyArray1<f64>>)> {
        self.check_beta(&beta)?;
        let model = &mut self.inner;
        let (e, b) = run_detached(py, None, Load::Light, move || {
            let mut b = beta;
            model.nagq0(&theta, &mut b, true).map(|e| (e, b))
        })?;
        Ok((e.deviance, vec_out(py, e.gradient), vec_out(py, b)))
    }

    /// Fit the model (n_agq 0 or 1).
    #[pyo3(signature = (*, n_agq, max_iter, theta0, beta0, threads))]
    fn fit<'py>(&mut self, py: Python<'py>, n_agq: usize, max_iter: usize, theta0: Option<Vec<f64>>, beta0: Option<Vec<f64>>, threads: Option<usize>) -> PyResult<PySparseGlmmFit> {
        if n_agq > 1 {
            return Err(ModelSpecError::new_err("n_agq > 1 needs a single grouping factor; use n_agq = 0 or 1"));
        }
        let opts = FitOptions { n_agq, max_iter, theta0, beta0 };
        // its finite-difference Hessian spreads whole evaluations over threads
        let load = Load::heavy_if(self.inner.hessian_in_parallel_pays() || self.inner.n >= PARALLEL_MIN_WORK);
        let model = &mut self.inner;
        let result = run_detached(py, threads, load, move || crate::glmm::sparse::fit::fit(model, &opts))?;
        PySparseGlmmFit::new(py, result)
    }

    /// The replicates of the fit at (θ, β), refitted with `n_agq`: simulated responses and refits.
    #[pyo3(signature = (*, theta, beta, n_agq))]
    fn replicates(&self, theta: Vec<f64>, beta: Vec<f64>, n_agq: usize) -> PyResult<PySparseGlmmReplicates> {
        let m = &self.inner;
        if theta.len() != m.n_theta() {
            return Err(ModelSpecError::new_err(format!("replicates need {} theta values", m.n_theta())));
        }
        self.check_beta(&beta)?;
        let design = SharedDesign::from_rows(&m.x, m.p, m.terms.clone());
        let data = GlmmData { design, m: m.m.clone(), offset: m.offset.clone(), family: m.family, link: m.link };
        Ok(PySparseGlmmReplicates { data, theta, beta, n_agq })
    }
}

impl PySparseGlmm {
    fn check_beta(&self, beta: &[f64]) -> PyResult<()> {
        if beta.len() != self.inner.p {
            return Err(ModelSpecError::new_err(format!("beta needs {} values", self.inner.p)));
        }
        Ok(())
    }
}

/// A fitted GLMM with several random-effects terms, as plain arrays.
#[pyclass(name = "SparseGlmmFit", module = "glmmx._core", frozen, get_all)]
pub struct PySparseGlmmFit {
    theta: Py<PyArray1<f64>>,
    beta: Py<PyArray1<f64>>,
    deviance: f64,
    gradient: Py<PyArray1<f64>>,
    max_grad: f64,
    converged: bool,
    iterations: usize,
    evaluations: usize,
    message: String,
    hessian: Py<PyAny>,
    vcov_beta: Py<PyAny>,
    vcov_source: String,
    b: Py<PyArray1<f64>>,
    cond_var: Py<PyArray1<f64>>,
    eta: Py<PyArray1<f64>>,
    mu: Py<PyArray1<f64>>,
    dev_resid: Py<PyArray1<f64>>,
}

impl PySparseGlmmFit {
    fn new(py: Python<'_>, f: SparseGlmmFit) -> PyResult<Self> {
        Ok(PySparseGlmmFit {
            theta: vec_out(py, f.theta),
            beta: vec_out(py, f.beta),
            deviance: f.deviance,
            gradient: vec_out(py, f.report.gradient),
            max_grad: f.report.max_grad,
            converged: f.report.converged,
            iterations: f.report.iterations,
            evaluations: f.report.evaluations,
            message: f.report.message,
            hessian: mat_out(py, &f.hessian)?,
            vcov_beta: mat_out(py, &f.vcov_beta)?,
            vcov_source: f.vcov_source.to_string(),
            b: vec_out(py, f.b),
            cond_var: vec_out(py, f.cond_var),
            eta: vec_out(py, f.eta),
            mu: vec_out(py, f.mu),
            dev_resid: vec_out(py, f.dev_resid),
        })
    }
}

/// X (column-major data and its number of columns) and the random-effects terms, checked.
fn design<'a>(x: &'a PyReadonlyArray2<'_, f64>, codes: &[PyReadonlyArray1<'_, u32>], n_levels: &[usize], z: &[PyReadonlyArray2<'_, f64>]) -> PyResult<(&'a [f64], usize, Vec<ReTermData>)> {
    let (xs, p) = fortran("X", x)?;
    Ok((xs, p, re_terms(codes, n_levels, z)?))
}

/// A fitted lmer model's replicates: the data they share (prior weights, X, random-effects
/// terms) and the estimates (θ, β, σ) they are simulated from and started at
/// (`LmmModel.replicates`).
#[pyclass(name = "LmmReplicates", module = "glmmx._core", frozen)]
pub struct PyLmmReplicates {
    data: LmmData,
    theta: Vec<f64>,
    beta: Vec<f64>,
    sigma: f64,
}

#[pymethods]
impl PyLmmReplicates {
    /// `nsim` responses (offset removed, as the core holds y).
    #[pyo3(signature = (*, nsim, seed, first))]
    fn simulate(&self, py: Python<'_>, nsim: usize, seed: u64, first: u64) -> PyResult<Py<PyAny>> {
        simulated_matrix(py, self.data.design.n(), nsim, || Ok(()), self.simulator(seed, first))
    }

    /// Refit to many responses in parallel, each started at θ.
    #[pyo3(signature = (*, batch, reml, max_iter))]
    fn refit_many(&self, py: Python<'_>, batch: PyRef<'_, Batch>, reml: bool, max_iter: usize) -> PyResult<Py<PyAny>> {
        let refit = LmmRefit { data: self.data.clone(), reml, opts: LmmFitOptions { max_iter, theta0: Some(self.theta.clone()) } };
        let widths = (self.data.design.p, self.theta.len() + 1);
        let (seed, first) = batch.stream();
        run_batch(py, &refit, self.data.design.n(), &batch, || Ok(()), self.simulator(seed, first), widths)
    }
}

impl PyLmmReplicates {
    /// Replicate k's simulated response.
    fn simulator(&self, seed: u64, first: u64) -> impl Fn(u64, &mut [f64]) + Sync + Send + '_ {
        move |k, y| self.data.simulate(&self.theta, &self.beta, self.sigma, &mut replicate_rng(seed, first + k), y)
    }
}

/// A fitted several-factor GLMM's replicates: the data they share (prior weights, offset, X,
/// random-effects terms, family and link) and the estimates (θ, β) they are simulated from and
/// started at (`SparseGlmm.replicates`).
#[pyclass(name = "SparseGlmmReplicates", module = "glmmx._core", frozen)]
pub struct PySparseGlmmReplicates {
    data: GlmmData,
    theta: Vec<f64>,
    beta: Vec<f64>,
    n_agq: usize,
}

#[pymethods]
impl PySparseGlmmReplicates {
    /// `nsim` responses.
    #[pyo3(signature = (*, nsim, seed, first))]
    fn simulate(&self, py: Python<'_>, nsim: usize, seed: u64, first: u64) -> PyResult<Py<PyAny>> {
        simulated_matrix(py, self.data.design.n(), nsim, || self.data.check_simulable(), self.simulator(seed, first))
    }

    /// Refit to many responses in parallel, each started at (θ, β).
    #[pyo3(signature = (*, batch, max_iter))]
    fn refit_many(&self, py: Python<'_>, batch: PyRef<'_, Batch>, max_iter: usize) -> PyResult<Py<PyAny>> {
        let opts = FitOptions { n_agq: self.n_agq, max_iter, theta0: Some(self.theta.clone()), beta0: Some(self.beta.clone()) };
        let refit = SparseGlmmRefit { data: self.data.clone(), opts };
        let widths = (self.data.design.p, self.theta.len());
        let (seed, first) = batch.stream();
        run_batch(py, &refit, self.data.design.n(), &batch, || refit.data.check_simulable(), self.simulator(seed, first), widths)
    }
}

impl PySparseGlmmReplicates {
    /// Replicate k's simulated response.
    fn simulator(&self, seed: u64, first: u64) -> impl Fn(u64, &mut [f64]) + Sync + Send + '_ {
        move |k, y| self.data.simulate(&self.theta, &self.beta, &mut replicate_rng(seed, first + k), y)
    }
}
