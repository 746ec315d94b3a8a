//! Bindings of the one-grouping-factor GLMM: the model (fit, deviance, simulation, batch
//! refits) and its fit.

use crate::family::{Family, Link};
use crate::glmm::fit::{FitOptions, GlmmFit, fit};
use crate::glmm::model::GlmmModel;
use crate::glmm::nagq0;
use crate::glmm::refit::GlmmRefit;
use crate::glmm::simulate::{check_simulable, simulate_internal};
use crate::numerics::rng::replicate_rng;
use crate::terms::cluster::Clustered;
use crate::terms::remat::ReTemplate;
use numpy::{PyArray1, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;
use super::{Batch, Load, ModelSpecError, fortran, mat_out, mat_rows_out, run_batch, run_detached, simulated_matrix, slice, vec_out};

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
        self.check_rule(n_agq)?;
        let model = &mut self.inner;
        let e = run_detached(py, None, Load::Light, move || model.deviance(&theta, &beta, n_agq, gradient))?;
        Ok((e.deviance, vec_out(py, e.gradient)))
    }

    /// The nAGQ = 0 criterion at θ with β moved to the joint mode (starting from `beta`):
    /// (deviance, gradient in θ, β at the joint mode).
    fn deviance_nagq0<'py>(&mut self, py: Python<'py>, theta: Vec<f64>, beta: Vec<f64>) -> PyResult<(f64, Py<PyArray1<f64>>, Py<PyArray1<f64>>)> {
        self.check_lengths(&theta, &beta)?;
        let model = &mut self.inner;
        let (e, b) = run_detached(py, None, Load::Light, move || {
            let mut b = beta;
            nagq0::deviance(model, &theta, &mut b, true).map(|e| (e, b))
        })?;
        Ok((e.deviance, vec_out(py, e.gradient), vec_out(py, b)))
    }

    /// Fit the model.
    #[pyo3(signature = (*, n_agq, max_iter, theta0, beta0, threads))]
    fn fit<'py>(&mut self, py: Python<'py>, n_agq: usize, max_iter: usize, theta0: Option<Vec<f64>>, beta0: Option<Vec<f64>>, threads: Option<usize>) -> PyResult<PyGlmmFit> {
        self.check_rule(n_agq)?;
        let opts = FitOptions { n_agq, max_iter, theta0, beta0 };
        let load = Load::heavy_if(self.inner.heavy(n_agq.max(1).pow(self.inner.data.d as u32)));
        let model = &mut self.inner;
        let result = run_detached(py, threads, load, move || fit(model, &opts))?;
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

    /// The replicates of the fit at (θ, β), refitted with `n_agq` from the conditional modes
    /// `modes` (n_clusters × d; the model's as they are now when None): simulated responses and
    /// refits. The modes are copied, so that replicates never need to change the model.
    #[pyo3(signature = (*, theta, beta, n_agq, modes=None))]
    fn replicates(slf: Bound<'_, Self>, theta: Vec<f64>, beta: Vec<f64>, n_agq: usize, modes: Option<PyReadonlyArray2<'_, f64>>) -> PyResult<PyGlmmReplicates> {
        let core = slf.borrow();
        core.check_lengths(&theta, &beta)?;
        core.check_rule(n_agq)?;
        let modes = match modes {
            None => None,
            Some(m) => {
                let m = m.as_slice().map_err(|_| ModelSpecError::new_err("modes must be a C-contiguous float64 array"))?;
                if m.len() != core.inner.modes.len() {
                    return Err(ModelSpecError::new_err(format!("modes needs {} values; got {}", core.inner.modes.len(), m.len())));
                }
                Some(m.to_vec())
            }
        };
        drop(core);
        Ok(PyGlmmReplicates { model: slf.unbind(), modes, theta, beta, n_agq })
    }
}

/// A fitted one-factor GLMM's replicates: its model (the data, and the conditional modes every
/// refit starts from, as they are when the refits run) and the estimates (θ, β) they are
/// simulated from and started at (`GlmmModel.replicates`).
#[pyclass(name = "GlmmReplicates", module = "glmmx._core", frozen)]
pub struct PyGlmmReplicates {
    model: Py<PyGlmmModel>,
    modes: Option<Vec<f64>>,
    theta: Vec<f64>,
    beta: Vec<f64>,
    n_agq: usize,
}

#[pymethods]
impl PyGlmmReplicates {
    /// `nsim` responses, original row order: an (n, nsim) array; column k is replicate
    /// `first + k` of `seed`.
    #[pyo3(signature = (*, nsim, seed, first))]
    fn simulate(&self, py: Python<'_>, nsim: usize, seed: u64, first: u64) -> PyResult<Py<PyAny>> {
        let core = self.model.borrow(py);
        let model = &core.inner;
        simulated_matrix(py, model.data.n, nsim, || check_simulable(model), simulator(model, &self.theta, &self.beta, seed, first))
    }

    /// Refit to many responses in parallel, each fit started at (θ, β) and the modes.
    #[pyo3(signature = (*, batch, max_iter))]
    fn refit_many(&self, py: Python<'_>, batch: PyRef<'_, Batch>, max_iter: usize) -> PyResult<Py<PyAny>> {
        let core = self.model.borrow(py);
        let model = &core.inner;
        let refit = GlmmRefit::new(model, self.modes.clone(), self.theta.clone(), self.beta.clone(), self.n_agq, max_iter);
        let (seed, first) = batch.stream();
        let widths = (model.p(), model.n_theta());
        run_batch(py, &refit, model.data.n, &batch, || check_simulable(model), simulator(model, &self.theta, &self.beta, seed, first), widths)
    }
}

impl PyGlmmModel {
    /// `n_agq` within the bounds of the quadrature rules (for this model's dimension).
    fn check_rule(&self, n_agq: usize) -> PyResult<()> {
        Ok(crate::numerics::ghq::check_rule(n_agq.max(1), self.inner.data.d)?)
    }

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

/// Replicate k's simulated response at (θ, β) in the original row order.
fn simulator<'a>(model: &'a GlmmModel, theta: &[f64], beta: &'a [f64], seed: u64, first: u64) -> impl Fn(u64, &mut [f64]) + Sync + Send + 'a {
    let lambda = model.template.lambda(theta);
    move |k, y| {
        let mut internal = vec![0.0; model.data.n];
        simulate_internal(model, &lambda, beta, &mut replicate_rng(seed, first + k), &mut internal);
        model.data.order.iter().enumerate().for_each(|(row, &orig)| y[orig] = internal[row]);
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
            gradient: vec_out(py, f.report.gradient),
            max_grad: f.report.max_grad,
            converged: f.report.converged,
            iterations: f.report.iterations,
            evaluations: f.report.evaluations,
            message: f.report.message,
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
