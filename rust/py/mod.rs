//! The Python boundary (the only module tree that knows PyO3): input checking, GIL release,
//! thread pools, error mapping, and results as NumPy arrays. One file per model family:
//! `glmm` (one grouping factor, batch refits), `lmm` (lmer and glmer with several terms),
//! `npml` (npmlt); the helpers they share are here.

use crate::batch::{self, ReplicateFit, Refit};
use crate::error::Error;
use crate::numerics::cancel::Cancel;
use numpy::{PyArray1, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::create_exception;
use pyo3::exceptions::{PyArithmeticError, PyKeyboardInterrupt, PyMemoryError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
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
            Error::OutOfMemory { .. } => PyMemoryError::new_err(e.to_string()),
            Error::Interrupted => PyKeyboardInterrupt::new_err("interrupted"),
        }
    }
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

/// Count of finished replicates, readable from Python while a batch runs without the GIL, and
/// a way to stop the batch from the thread that reads it.
#[pyclass(module = "glmmx._core", frozen)]
pub struct Progress {
    done: Arc<AtomicUsize>,
    cancel: Cancel,
}

#[pymethods]
impl Progress {
    #[new]
    fn new() -> Self {
        Progress { done: Arc::new(AtomicUsize::new(0)), cancel: Cancel::new() }
    }

    /// Ask the batch to stop: it finishes the replicates it is fitting and raises
    /// KeyboardInterrupt.
    fn cancel(&self) {
        self.cancel.request();
    }

    /// Replicates finished so far.
    #[getter]
    fn done(&self) -> usize {
        self.done.load(Ordering::Relaxed)
    }
}

/// The columns of a (n × n_rep) response matrix, checked: the data and the number of columns.
fn response_columns<'a>(responses: &'a Option<PyReadonlyArray2<'_, f64>>, n: usize) -> PyResult<Option<(&'a [f64], usize)>> {
    match responses {
        Some(r) if r.shape()[0] != n => Err(ModelSpecError::new_err(format!("responses must have {n} rows (one per observation); got {}", r.shape()[0]))),
        Some(r) => Ok(Some((r.as_slice().map_err(|_| ModelSpecError::new_err("responses must be a C-contiguous, aligned float64 array"))?, r.shape()[1]))),
        None => Ok(None),
    }
}

/// Which replicates a batch refits and how: the columns of `responses` (n × n_rep), or `nsim`
/// responses simulated from `seed` (replicates `first`, `first` + 1, ..., each from its own
/// stream); on `threads` threads, counting finished fits in `progress`.
#[pyclass(module = "glmmx._core", frozen)]
pub struct Batch {
    responses: Option<Py<numpy::PyArray2<f64>>>,
    nsim: usize,
    seed: u64,
    first: u64,
    threads: Option<usize>,
    progress: Option<Py<Progress>>,
}

#[pymethods]
impl Batch {
    #[new]
    #[pyo3(signature = (*, responses, nsim, seed, first, threads, progress))]
    fn new(responses: Option<Bound<'_, numpy::PyArray2<f64>>>, nsim: usize, seed: u64, first: u64, threads: Option<usize>, progress: Option<Py<Progress>>) -> Self {
        Batch { responses: responses.map(Bound::unbind), nsim, seed, first, threads, progress }
    }
}

impl Batch {
    /// The seed and first replicate of simulated responses.
    fn stream(&self) -> (u64, u64) {
        (self.seed, self.first)
    }
}

/// Refit `refit` to the replicates of `batch` without the GIL, and return the replicate table;
/// simulated responses come from `simulate(k, y)` for replicates k = 0, 1, ... (`check` runs
/// first, before simulating).
fn run_batch<M: Refit>(
    py: Python<'_>,
    refit: &M,
    n: usize,
    batch: &Batch,
    check: impl FnOnce() -> Result<(), Error> + Send,
    simulate: impl Fn(u64, &mut [f64]) + Sync + Send,
    widths: (usize, usize),
) -> PyResult<Py<PyAny>> {
    let responses = batch.responses.as_ref().map(|r| r.bind(py).readonly());
    let columns = response_columns(&responses, n)?;
    let n_rep = columns.map_or(batch.nsim, |c| c.1);
    let counter = batch.progress.as_ref().map(|p| p.get().done.clone()).unwrap_or_default();
    let cancel = batch.progress.as_ref().map_or_else(Cancel::new, |p| p.get().cancel.clone());
    let fits = run_cancellable(py, batch.threads, Load::Heavy, cancel, move || {
        if columns.is_none() {
            check()?;
        }
        let fill = |k: usize, y: &mut [f64]| -> Result<(), Error> {
            match columns {
                Some((data, width)) => (0..n).for_each(|i| y[i] = data[i * width + k]),
                None => simulate(k as u64, y),
            }
            Ok(())
        };
        let fits = batch::run(refit, n_rep, &fill, &counter)?;
        crate::numerics::cancel::check()?;
        Ok(fits)
    })?;
    replicate_table(py, fits, widths.0, widths.1)
}

/// `nsim` simulated responses as an (n, nsim) array, column k from `simulate(k, y)`.
fn simulated_matrix(py: Python<'_>, n: usize, nsim: usize, check: impl FnOnce() -> Result<(), Error> + Send, simulate: impl Fn(u64, &mut [f64]) + Send) -> PyResult<Py<PyAny>> {
    let out = run_detached(py, Some(1), Load::Light, move || {
        check()?;
        let mut out = crate::numerics::alloc::zeros(n.checked_mul(nsim), || format!("an {n} x {nsim} array of simulated responses"))?;
        let mut y = vec![0.0; n];
        for k in 0..nsim {
            simulate(k as u64, &mut y);
            y.iter().enumerate().for_each(|(i, &v)| out[i * nsim + k] = v);
        }
        Ok(out)
    })?;
    mat_rows_out(py, out, n, nsim)
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

mod glmm;
mod lmm;
mod npml;
mod run;
mod sigint;

use run::{Load, run_cancellable, run_detached};

/// The compiled core of glmmx.
#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<glmm::PyGlmmModel>()?;
    m.add_class::<glmm::PyGlmmFit>()?;
    m.add_class::<Progress>()?;
    m.add_class::<Batch>()?;
    m.add_class::<lmm::PyLmmModel>()?;
    m.add_class::<lmm::PyLmmFit>()?;
    m.add_class::<lmm::PySparseGlmm>()?;
    m.add_class::<lmm::PySparseGlmmFit>()?;
    m.add_class::<glmm::PyGlmmReplicates>()?;
    m.add_class::<lmm::PyLmmReplicates>()?;
    m.add_class::<lmm::PySparseGlmmReplicates>()?;
    m.add_class::<npml::PyNpmltFit>()?;
    m.add_class::<npml::PyNpmltData>()?;
    m.add_class::<npml::PyNpmltReplicates>()?;
    m.add("MAX_THREADS", run::MAX_THREADS)?;
    m.add("MAX_NAGQ", crate::numerics::ghq::MAX_NODES_PER_DIM)?;
    m.add("MAX_RULE_NODES", crate::numerics::ghq::MAX_RULE_NODES)?;
    m.add("ModelSpecError", m.py().get_type::<ModelSpecError>())?;
    m.add("NumericalError", m.py().get_type::<NumericalError>())?;
    m.add("ConvergenceError", m.py().get_type::<ConvergenceError>())?;
    Ok(())
}
