//! Whether a parallel section pays, here and now: a call's parallel sections are timed, and
//! a section runs on one thread when that has been the faster way at its place in the code.
//!
//! On a quiet machine two threads win on anything past the hand-off cost; when another
//! process keeps a core busy, a section that hands half its chunks to a second thread waits
//! for whichever thread the scheduler has set aside, and short sections then take several
//! times as long as on one thread. Each call keeps, per call site (`Location`), the time per
//! cluster of the sections it ran each way (an exponentially weighted mean), and runs each
//! section the faster way. It starts with a burst each way and keeps trying the other way in
//! short bursts, rarer while they confirm the choice and frequent again once they overturn
//! it, so a load that comes or goes during a long fit is followed. The first section of
//! every burst is not counted: it pays for waking or idling the other threads.
//!
//! Which way a section runs never changes its result: chunks and their order are fixed (see
//! `par`). Outside a call that set a governor (`with_governor`) sections run as asked.

use std::cell::RefCell;
use std::panic::Location;
use std::time::{Duration, Instant};

/// Sections in a burst (the first not counted).
const BURST: u32 = 4;
/// Sections between bursts after a burst overturned the choice, and at most.
const GAP_MIN: u32 = 64;
const GAP_MAX: u32 = 512;
/// Weight of a new section's time in the running mean.
const WEIGHT: f64 = 0.25;

thread_local! {
    static GOVERNOR: RefCell<Option<Vec<Site>>> = const { RefCell::new(None) };
}

/// Running mean of seconds per cluster of one way of running.
#[derive(Clone, Copy, Default)]
struct Rate {
    per_cluster: f64,
    seen: u32,
}

impl Rate {
    fn add(&mut self, x: f64) {
        self.per_cluster = if self.seen == 0 { x } else { (1.0 - WEIGHT) * self.per_cluster + WEIGHT * x };
        self.seen += 1;
    }
}

/// What one call site has learnt in this call.
struct Site {
    at: &'static Location<'static>,
    parallel: Rate,
    sequential: Rate,
    /// The way sections run outside bursts.
    choice: bool,
    /// The way of the burst under way, and how many of its sections have run.
    burst: Option<(bool, u32)>,
    /// Sections since the last burst ended, and how many to wait for the next.
    since: u32,
    gap: u32,
}

impl Site {
    fn new(at: &'static Location<'static>) -> Self {
        Site { at, parallel: Rate::default(), sequential: Rate::default(), choice: true, burst: Some((true, 0)), since: 0, gap: GAP_MIN }
    }

    /// The way the next section runs.
    fn next(&mut self) -> bool {
        if self.burst.is_none() && self.since >= self.gap {
            self.burst = Some((!self.choice, 0));
        }
        match self.burst {
            Some((way, _)) => way,
            None => {
                self.since += 1;
                self.choice
            }
        }
    }

    /// A section ran `parallel` or not, taking `seconds` per cluster.
    fn record(&mut self, parallel: bool, seconds: f64) {
        let Some((way, done)) = self.burst else {
            self.rate(parallel).add(seconds);
            if self.rate(parallel).per_cluster > self.rate(!parallel).per_cluster {
                // the chosen way has become the slower one: try the other at once
                self.since = self.gap;
            }
            return;
        };
        if done > 0 {
            self.rate(way).add(seconds);
        }
        if done + 1 < BURST {
            self.burst = Some((way, done + 1));
            return;
        }
        self.burst = None;
        if self.sequential.seen == 0 {
            // the opening bursts: parallel first, then sequential
            self.burst = Some((false, 0));
            return;
        }
        let faster = self.parallel.per_cluster <= self.sequential.per_cluster;
        self.gap = if faster == self.choice { (self.gap * 2).min(GAP_MAX) } else { GAP_MIN };
        self.choice = faster;
        self.since = 0;
    }

    fn rate(&mut self, parallel: bool) -> &mut Rate {
        if parallel { &mut self.parallel } else { &mut self.sequential }
    }
}

/// Run `f` with a governor for the parallel sections it runs on this thread.
pub fn with_governor<T>(f: impl FnOnce() -> T) -> T {
    let previous = GOVERNOR.with(|g| g.replace(Some(Vec::new())));
    let out = f();
    GOVERNOR.with(|g| *g.borrow_mut() = previous);
    out
}

/// `run(spread)` for a section over `units` clusters or blocks at the caller's place in the
/// code: `spread` says whether to run it over threads (see the module comment), and the time
/// it took is recorded.
#[track_caller]
pub fn governed<T>(units: usize, run: impl FnOnce(bool) -> T) -> T {
    let at = Location::caller();
    let spread = parallel_here(at);
    let started = Instant::now();
    let out = run(spread);
    ran(at, spread, units, started.elapsed());
    out
}

/// Whether the section at `at` is to run in parallel (always, outside a governor).
fn parallel_here(at: &'static Location<'static>) -> bool {
    GOVERNOR.with(|g| match g.borrow_mut().as_mut() {
        None => true,
        Some(sites) => site(sites, at).next(),
    })
}

/// The section at `at` ran (`parallel` or not) over `clusters` clusters in `elapsed`.
fn ran(at: &'static Location<'static>, parallel: bool, clusters: usize, elapsed: Duration) {
    GOVERNOR.with(|g| {
        if let Some(sites) = g.borrow_mut().as_mut() {
            site(sites, at).record(parallel, elapsed.as_secs_f64() / clusters.max(1) as f64);
        }
    });
}

fn site<'a>(sites: &'a mut Vec<Site>, at: &'static Location<'static>) -> &'a mut Site {
    match sites.iter().position(|s| std::ptr::eq(s.at, at)) {
        Some(i) => &mut sites[i],
        None => {
            sites.push(Site::new(at));
            sites.last_mut().unwrap()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sections at one site whose parallel runs take `par` and sequential runs `seq` seconds
    /// per cluster; how many of `n` ran in parallel.
    fn run_site(n: usize, par: impl Fn(usize) -> f64, seq: impl Fn(usize) -> f64) -> usize {
        let mut s = Site::new(Location::caller());
        (0..n)
            .filter(|&i| {
                let way = s.next();
                s.record(way, if way { par(i) } else { seq(i) });
                way
            })
            .count()
    }

    #[test]
    fn the_faster_way_runs_nearly_always() {
        let n = 5_000;
        let quiet = run_site(n, |_| 1.0, |_| 1.6);
        assert!(quiet > n * 97 / 100, "parallel faster: {quiet} of {n} parallel");
        let busy = run_site(n, |_| 4.0, |_| 1.0);
        assert!(busy < n * 3 / 100, "sequential faster: {busy} of {n} parallel");
    }

    #[test]
    fn a_load_that_comes_midway_is_followed() {
        let n = 6_000;
        // quiet for the first half, a busy core after: parallel should stop soon after
        let par = |i: usize| if i < n / 2 { 1.0 } else { 4.0 };
        let ran = run_site(n, par, |_| 1.6);
        assert!(ran > n / 2 - 100 && ran < n / 2 + 20, "{ran} parallel");
    }

    #[test]
    fn outside_a_governor_every_section_runs_as_asked() {
        assert!((0..100).all(|_| parallel_here(Location::caller())));
        with_governor(|| {
            let at = Location::caller();
            let ways: Vec<bool> = (0..8).map(|_| {
                let w = parallel_here(at);
                ran(at, w, 10, Duration::from_micros(if w { 10 } else { 30 }));
                w
            }).collect();
            assert_eq!(ways, [true, true, true, true, false, false, false, false], "one burst each way first");
            assert!(parallel_here(at), "then the faster");
        });
    }
}
