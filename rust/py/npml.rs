//! Bindings of npmlt: ordinal/nominal mixed models with a mass-point (NPML) or normal
//! random effect, their simulation and batch refits.

use crate::npml::data::OrdinalData;
use crate::numerics::rng::replicate_rng;
use numpy::{PyArray1, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::prelude::*;
use super::{Batch, Load, ModelSpecError, fortran, mat_out, mat_rows_out, run_batch, run_detached, simulated_matrix, vec_out};

/// The ordinal data from Python arrays (rows sorted by cluster; `starts` has m + 1 entries).
#[allow(clippy::too_many_arguments)]
fn ordinal_data(y: &PyReadonlyArray1<'_, u32>, q: usize, x: &PyReadonlyArray2<'_, f64>, npo: &[bool], z: &PyReadonlyArray2<'_, f64>, starts: &[usize], link: &str) -> PyResult<crate::npml::data::OrdinalData> {
    let (xs, t) = fortran("X", x)?;
    let (zs, d) = fortran("Z", z)?;
    let ys = y.as_slice().map_err(|_| ModelSpecError::new_err("y must be a contiguous uint32 array"))?;
    Ok(crate::npml::data::OrdinalData::new(ys, q, xs, t, npo, zs, d, starts, crate::npml::data::OrdLink::parse(link)?)?)
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
    fn from_npml(py: Python<'_>, f: crate::npml::fit::NpmlFit, k: usize, d: usize) -> PyResult<Self> {
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

impl PyNpmltFit {
    fn from_normal(py: Python<'_>, f: crate::npml::normal::NormalFit, d: usize) -> PyResult<Self> {
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

/// The data of an npmlt model (rows sorted by cluster; `starts` has m + 1 entries) and its
/// link, prepared once: fits with a mass-point or a normal random effect, and the replicates of
/// a fit.
#[pyclass(name = "NpmltData", module = "glmmx._core", frozen)]
pub struct PyNpmltData {
    data: OrdinalData,
}

#[pymethods]
impl PyNpmltData {
    #[new]
    #[pyo3(signature = (y, q, x, npo, z, starts, *, link))]
    fn new(y: PyReadonlyArray1<'_, u32>, q: usize, x: PyReadonlyArray2<'_, f64>, npo: Vec<bool>, z: PyReadonlyArray2<'_, f64>, starts: Vec<usize>, link: &str) -> PyResult<Self> {
        Ok(PyNpmltData { data: ordinal_data(&y, q, &x, &npo, &z, &starts, link)? })
    }

    /// Fit with a `k`-point (NPML) random-effects distribution.
    #[pyo3(signature = (*, k, max_iter, se, start, threads))]
    fn fit(&self, py: Python<'_>, k: usize, max_iter: usize, se: &str, start: Option<(Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>)>, threads: Option<usize>) -> PyResult<PyNpmltFit> {
        let data = self.data.clone();
        let (q, d) = (data.q, data.d);
        if k < 1 {
            return Err(ModelSpecError::new_err("k must be at least 1"));
        }
        let model = crate::npml::model::NpmlModel::new(data, k);
        let start = match start {
            Some((alpha, beta, points, masses)) => {
                if alpha.len() != q || beta.len() != model.data.n_beta() || points.len() != k * d || masses.len() != k {
                    return Err(ModelSpecError::new_err(format!("start needs {q} intercepts, {} coefficients, {k} x {d} points and {k} masses", model.data.n_beta())));
                }
                Some(crate::npml::model::NpmlParams { alpha, beta, points, masses })
            }
            None => None,
        };
        let opts = crate::npml::fit::NpmlOptions { max_iter, se: crate::npml::se::SeKind::parse(se)?, start };
        let fit = run_detached(py, threads, Load::heavy_if(model.parallel()), || crate::npml::fit::fit_npml(&model, &opts))?;
        PyNpmltFit::from_npml(py, fit, k, d)
    }

    /// Fit with a normal random effect by adaptive Gauss–Hermite quadrature (`nagq` nodes).
    #[pyo3(signature = (*, nagq, max_iter, se, threads))]
    fn fit_normal(&self, py: Python<'_>, nagq: usize, max_iter: usize, se: &str, threads: Option<usize>) -> PyResult<PyNpmltFit> {
        let data = self.data.clone();
        let d = data.d;
        if nagq < 1 {
            return Err(ModelSpecError::new_err("nagq must be at least 1"));
        }
        let kind = crate::npml::se::SeKind::parse(se)?;
        crate::numerics::ghq::check_rule(nagq, d)?;
        let model = crate::npml::normal::NormalModel::new(data, nagq);
        let fit = run_detached(py, threads, Load::heavy_if(model.parallel()), || crate::npml::normal::fit_normal(&model, max_iter, kind))?;
        PyNpmltFit::from_normal(py, fit, d)
    }

    /// The replicates of a fit: its estimates and random-effects distribution (points (K × d)
    /// and masses, or the lower Cholesky factor of Σ).
    #[pyo3(signature = (*, alpha, beta, points, masses, chol))]
    fn replicates(&self, alpha: Vec<f64>, beta: Vec<f64>, points: Option<PyReadonlyArray2<'_, f64>>, masses: Option<Vec<f64>>, chol: Option<PyReadonlyArray2<'_, f64>>) -> PyResult<PyNpmltReplicates> {
        Ok(PyNpmltReplicates { data: self.data.clone(), alpha, beta, mix: mixing(points, masses, chol)? })
    }
}

/// The random-effects distribution of a fitted npmlt model from Python: points (K × d) and
/// masses, or the lower Cholesky factor of Σ (d × d, row-major as NumPy holds it).
fn mixing(points: Option<PyReadonlyArray2<'_, f64>>, masses: Option<Vec<f64>>, chol: Option<PyReadonlyArray2<'_, f64>>) -> PyResult<crate::npml::refit::Mixing> {
    match (points, masses, chol) {
        (Some(p), Some(m), None) => Ok(crate::npml::refit::Mixing::Points { points: p.as_array().iter().copied().collect(), masses: m }),
        (None, None, Some(c)) => {
            let d = c.shape()[0];
            let a = c.as_array();
            Ok(crate::npml::refit::Mixing::Normal { chol: (0..d * d).map(|k| a[[k % d, k / d]]).collect() })
        }
        _ => Err(ModelSpecError::new_err("give either points and masses, or chol")),
    }
}

/// A fitted npmlt model's replicates: its data, estimates and random-effects distribution
/// (`NpmltData.replicates`).
#[pyclass(name = "NpmltReplicates", module = "glmmx._core", frozen)]
pub struct PyNpmltReplicates {
    data: OrdinalData,
    alpha: Vec<f64>,
    beta: Vec<f64>,
    mix: crate::npml::refit::Mixing,
}

#[pymethods]
impl PyNpmltReplicates {
    /// `nsim` responses (categories 1..Q, the data's row order): an (n, nsim) array whose
    /// column k is replicate `first + k` of `seed`.
    #[pyo3(signature = (*, nsim, seed, first))]
    fn simulate(&self, py: Python<'_>, nsim: usize, seed: u64, first: u64) -> PyResult<Py<PyAny>> {
        simulated_matrix(py, self.data.n, nsim, || Ok(()), simulator(&self.data, &self.alpha, &self.beta, &self.mix, seed, first))
    }

    /// Refit to many responses in parallel (columns of `responses`, categories 1..Q in the
    /// data's row order, or `nsim` simulated ones): each mass-point fit starts at the
    /// estimates; normal fits adapt from the fixed-effects start.
    #[pyo3(signature = (*, batch, nagq, max_iter, se))]
    fn refit_many(&self, py: Python<'_>, batch: PyRef<'_, Batch>, nagq: usize, max_iter: usize, se: &str) -> PyResult<Py<PyAny>> {
        let data = &self.data;
        let (n, d, n_beta) = (data.n, data.d, data.n_beta());
        let se = crate::npml::se::SeKind::parse(se)?;
        let (refit, n_par) = match &self.mix {
            crate::npml::refit::Mixing::Points { points, masses } => {
                let start = crate::npml::model::NpmlParams { alpha: self.alpha.clone(), beta: self.beta.clone(), points: points.clone(), masses: masses.clone() };
                (crate::npml::refit::NpmlRefit::points(data.clone(), start, max_iter, se), masses.len() * (d + 1))
            }
            crate::npml::refit::Mixing::Normal { .. } => (crate::npml::refit::NpmlRefit::normal(data.clone(), nagq, max_iter, se), d * d),
        };
        let (seed, first) = batch.stream();
        let draw = simulator(data, &self.alpha, &self.beta, &self.mix, seed, first);
        run_batch(py, &refit, n, &batch, || Ok(()), draw, (data.q + n_beta, n_par))
    }
}

/// Replicate k's simulated response (categories 1..Q as numbers, the data's row order).
fn simulator<'a>(data: &'a OrdinalData, alpha: &'a [f64], beta: &'a [f64], mix: &'a crate::npml::refit::Mixing, seed: u64, first: u64) -> impl Fn(u64, &mut [f64]) + Sync + Send + 'a {
    move |k, out| {
        let mut draw = vec![0u32; data.n];
        crate::npml::refit::simulate(data, alpha, beta, mix, &mut replicate_rng(seed, first + k), &mut draw);
        out.iter_mut().zip(&draw).for_each(|(o, &c)| *o = (c + 1) as f64);
    }
}

