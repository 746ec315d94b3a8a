//! Deterministic group-parallel map over clusters.
//!
//! Clusters are cut into fixed-size chunks whatever the number of threads; each chunk yields
//! one partial result, and the caller folds the partials in chunk order. Floating-point sums
//! therefore happen in the same order on 1 or 64 threads, and results are bit-identical.

use crate::error::Result;
use crate::numerics::governor;
use rayon::prelude::*;
use std::cell::Cell;
use std::ops::Range;

thread_local! {
    /// The thread count a call runs with on this thread, when it runs outside a pool of that
    /// size (0: not set, rayon's count holds).
    static THREADS: Cell<usize> = const { Cell::new(0) };
}

/// The number of threads parallel sections may use here: the call's count where one was set
/// on this thread (`with_threads`), otherwise the current rayon pool's.
pub fn threads() -> usize {
    match THREADS.with(Cell::get) {
        0 => rayon::current_num_threads(),
        k => k,
    }
}

/// Run `f` with `k` as this thread's count for `threads()` (restoring the previous after).
pub fn with_threads<T>(k: usize, f: impl FnOnce() -> T) -> T {
    let previous = THREADS.with(|t| t.replace(k));
    let out = f();
    THREADS.with(|t| t.set(previous));
    out
}

/// Clusters per chunk.
pub const CHUNK: usize = 32;

/// Below this many row evaluations per call the work runs on the calling thread: rayon's
/// hand-off costs more than it saves on small problems.
pub const PARALLEL_MIN_WORK: usize = 40_000;

/// Apply `f` to each chunk of clusters, in parallel when `parallel`, giving the partial
/// results in chunk order. `state` holds `stride` values per cluster (e.g. the conditional
/// modes) and each call gets its chunk's part, mutably. Under a governor (`governor`) a
/// parallel section runs on one thread where that has been faster at this call site.
#[track_caller]
pub fn map_chunks<W, T, I, F>(n_clusters: usize, state: &mut [f64], stride: usize, parallel: bool, init: I, f: F) -> Result<Vec<T>>
where
    T: Send,
    W: Send,
    I: Fn() -> W + Sync + Send,
    F: Fn(&mut W, Range<usize>, &mut [f64]) -> Result<T> + Sync + Send,
{
    debug_assert_eq!(state.len(), n_clusters * stride);
    let cancel = crate::numerics::cancel::current();
    let run = |w: &mut W, (ci, st): (usize, &mut [f64])| {
        cancel.check()?;
        let a = ci * CHUNK;
        f(w, a..(a + CHUNK).min(n_clusters), st)
    };
    let step = (CHUNK * stride).max(1);
    let sequential = |state: &mut [f64]| {
        let mut w = init();
        state.chunks_mut(step).enumerate().map(|x| run(&mut w, x)).collect()
    };
    if !(parallel && threads() > 1) {
        return sequential(state);
    }
    governor::governed(n_clusters, |spread| {
        if spread { state.par_chunks_mut(step).enumerate().map_init(&init, &run).collect() } else { sequential(state) }
    })
}
