//! Where the core's work runs: off the GIL, with the thread count asked for, stoppable by
//! Ctrl-C, and with no panic crossing into Python.
//!
//! * `threads=None`, a light call (one whose evaluations are too small to spread over
//!   threads): on the calling thread, any parallel section on rayon's global pool. Nothing
//!   is handed to another thread, so small models pay nothing.
//! * `threads=None`, a heavy call: as `threads=k` with one thread per core. Handing the call
//!   to a pool once costs less than handing each parallel section to the global pool from
//!   outside it (one wake-up and one wait per section, ~7% of a 10k-row fit).
//! * `threads=1`: on the calling thread, every parallel section sequential.
//! * `threads=k > 1`: on a pool of k threads of glmmx's own, made once per count and process.
//!
//! With more than one thread a call's parallel sections are governed (`numerics::governor`):
//! one that has been faster on one thread, as when another process keeps a core busy, runs
//! on one thread. Results are the same either way.
//!
//! A child made by fork runs `threads=None` on a pool of its own too: rayon's global pool, if
//! the parent used it, has no threads in the child. Ctrl-C on the main thread is recorded by
//! the SIGINT hook (`sigint`) for the call's cancel token; the call stops at its next check
//! and Python raises KeyboardInterrupt, leaving the model as usable as after any error.

use super::{ModelSpecError, NumericalError};
use super::sigint::Hook;
use crate::error::Error;
use crate::numerics::cancel::{self, Cancel, with_token};
use crate::numerics::governor::with_governor;
use crate::numerics::par::with_threads;
use pyo3::exceptions::PyKeyboardInterrupt;
use pyo3::prelude::*;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

/// The most threads a call may ask for.
pub const MAX_THREADS: usize = 256;

/// Pools made so far: (process id, threads, pool).
static POOLS: Mutex<Vec<(u32, usize, Arc<rayon::ThreadPool>)>> = Mutex::new(Vec::new());

/// The process that first used rayon's global pool (0: none yet).
static GLOBAL_POOL_PID: AtomicU32 = AtomicU32::new(0);

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// `threads` checked: None, or 1 ..= MAX_THREADS.
fn checked(threads: Option<usize>) -> PyResult<Option<usize>> {
    match threads {
        Some(0) => Err(ModelSpecError::new_err("threads must be at least 1 (or None for one per core); got 0")),
        Some(k) if k > MAX_THREADS => Err(ModelSpecError::new_err(format!("threads must be at most {MAX_THREADS} (this machine has {} cores); got {k}", cores()))),
        t => Ok(t),
    }
}

/// Whether rayon's global pool serves this process: it does unless it was started in a parent
/// before a fork.
fn global_pool_is_ours() -> bool {
    let pid = std::process::id();
    match GLOBAL_POOL_PID.compare_exchange(0, pid, Ordering::Relaxed, Ordering::Relaxed) {
        Ok(_) => true,
        Err(first) => first == pid,
    }
}

/// The pool of `k` threads of this process, made on first use.
fn pool(k: usize) -> PyResult<Arc<rayon::ThreadPool>> {
    let pid = std::process::id();
    let mut pools = POOLS.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((_, _, p)) = pools.iter().find(|(id, n, _)| *id == pid && *n == k) {
        return Ok(p.clone());
    }
    // pools of a parent process (before fork) have no threads here: forget them, never drop
    // them (dropping would signal threads that do not exist)
    let (stale, kept): (Vec<_>, Vec<_>) = pools.drain(..).partition(|(id, _, _)| *id != pid);
    *pools = kept;
    stale.into_iter().for_each(std::mem::forget);
    let made = rayon::ThreadPoolBuilder::new()
        .num_threads(k)
        .thread_name(|i| format!("glmmx-{i}"))
        .build()
        .map_err(|e| NumericalError::new_err(format!("cannot start {k} threads: {e}")))?;
    let made = Arc::new(made);
    pools.push((pid, k, made.clone()));
    Ok(made)
}

/// Whether a call's evaluations are big enough to spread over threads (see the module comment).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Load {
    Light,
    Heavy,
}

impl Load {
    pub fn heavy_if(heavy: bool) -> Load {
        if heavy { Load::Heavy } else { Load::Light }
    }
}

/// Run `f` without the GIL with `threads` threads (see the module comment), stoppable by
/// Ctrl-C, turning a panic into a NumericalError instead of letting it cross into Python.
pub fn run_detached<T: Send>(py: Python<'_>, threads: Option<usize>, load: Load, f: impl FnOnce() -> Result<T, Error> + Send) -> PyResult<T> {
    run_cancellable(py, threads, load, Cancel::new(), f)
}

/// [`run_detached`] with a token that others may set too (`Progress.cancel`).
pub fn run_cancellable<T: Send>(py: Python<'_>, threads: Option<usize>, load: Load, cancel: Cancel, f: impl FnOnce() -> Result<T, Error> + Send) -> PyResult<T> {
    let threads = checked(threads)?;
    let hook = Hook::install();
    let token = if hook.is_some() { cancel.watching_signal() } else { cancel };
    let job = move || catch_unwind(AssertUnwindSafe(|| with_token(token, || with_governor(f))));
    let outcome = match threads {
        None if load == Load::Light && global_pool_is_ours() => py.detach(job),
        Some(1) => py.detach(|| with_threads(1, job)),
        k => {
            let pool = pool(k.unwrap_or_else(cores))?;
            py.detach(|| pool.install(job))
        }
    };
    let interrupted = hook.is_some() && cancel::signalled();
    drop(hook);
    if interrupted {
        // Python's handler saw the signal too: let it raise KeyboardInterrupt now
        py.check_signals()?;
    }
    match outcome {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(Error::Interrupted)) => Err(PyKeyboardInterrupt::new_err("interrupted")),
        Ok(Err(e)) => Err(PyErr::from(e)),
        Err(panic) => {
            let what = panic.downcast_ref::<String>().cloned().or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_default();
            Err(NumericalError::new_err(format!("internal error in the glmmx core: {what}")))
        }
    }
}
