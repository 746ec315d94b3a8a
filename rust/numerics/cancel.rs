//! Stopping long work on request (Ctrl-C in Python): a cancel token per call, seen by every
//! loop that may run long — optimiser iterations, Newton polishing, EM, replicates of a batch
//! and the chunks of a parallel evaluation — which then return [`Error::Interrupted`].
//!
//! The token lives in a thread-local of the thread that runs the call (`with_token`); parallel
//! sections take it with them (`current`), since their workers are other threads. Outside any
//! token (the inline tests, benches) nothing is ever cancelled. A token may also watch the
//! process-wide signal flag that a SIGINT handler sets (`signal`, async-signal-safe).

use crate::error::{Error, Result};
use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

thread_local! {
    static TOKEN: RefCell<Option<Cancel>> = const { RefCell::new(None) };
}

/// Set by a signal handler (SIGINT) for the tokens that watch it.
static SIGNALLED: AtomicBool = AtomicBool::new(false);

/// Record a signal: every token that watches signals is then set. Async-signal-safe.
pub fn signal() {
    SIGNALLED.store(true, Ordering::Relaxed);
}

/// Whether a signal was recorded since the last `clear_signal`.
pub fn signalled() -> bool {
    SIGNALLED.load(Ordering::Relaxed)
}

/// Forget recorded signals (before a call that watches them starts).
pub fn clear_signal() {
    SIGNALLED.store(false, Ordering::Relaxed);
}

/// A shared flag: set once, seen by every holder.
#[derive(Clone, Debug, Default)]
pub struct Cancel {
    flag: Option<Arc<AtomicBool>>,
    watch_signal: bool,
}

impl Cancel {
    /// A new token, not yet set.
    pub fn new() -> Self {
        Cancel { flag: Some(Arc::new(AtomicBool::new(false))), watch_signal: false }
    }

    /// The same token, also set by a recorded signal.
    pub fn watching_signal(self) -> Self {
        Cancel { watch_signal: true, ..self }
    }

    /// Ask the work holding this token to stop.
    pub fn request(&self) {
        if let Some(flag) = &self.flag {
            flag.store(true, Ordering::Relaxed);
        }
    }

    /// Whether stopping was asked for.
    pub fn requested(&self) -> bool {
        self.flag.as_ref().is_some_and(|f| f.load(Ordering::Relaxed)) || self.watch_signal && signalled()
    }

    /// `Err(Interrupted)` once stopping was asked for.
    pub fn check(&self) -> Result<()> {
        if self.requested() { Err(Error::Interrupted) } else { Ok(()) }
    }
}

/// The token of the call running on this thread (none outside a call).
pub fn current() -> Cancel {
    TOKEN.with(|t| t.borrow().clone().unwrap_or_default())
}

/// `Err(Interrupted)` once the call running on this thread was asked to stop.
pub fn check() -> Result<()> {
    TOKEN.with(|t| t.borrow().as_ref().map_or(Ok(()), Cancel::check))
}

/// Run `f` with `token` as this thread's token (restoring the previous one after).
pub fn with_token<T>(token: Cancel, f: impl FnOnce() -> T) -> T {
    let previous = TOKEN.with(|t| t.replace(Some(token)));
    let out = f();
    TOKEN.with(|t| *t.borrow_mut() = previous);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_seen_on_its_thread_and_where_it_is_carried() {
        assert!(check().is_ok());
        let token = Cancel::new();
        with_token(token.clone(), || {
            assert!(check().is_ok());
            token.request();
            assert_eq!(check(), Err(Error::Interrupted));
            let carried = current();
            assert!(std::thread::spawn(move || carried.requested()).join().unwrap());
        });
        assert!(check().is_ok(), "the token ends with its call");
    }

    #[test]
    fn only_tokens_that_watch_signals_see_them() {
        let (plain, watching) = (Cancel::new(), Cancel::new().watching_signal());
        clear_signal();
        assert!(!watching.requested());
        signal();
        assert!(watching.requested() && !plain.requested());
        clear_signal();
        assert!(!watching.requested());
    }
}
