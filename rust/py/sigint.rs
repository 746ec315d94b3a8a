//! Ctrl-C while the core works on Python's main thread. Python's own SIGINT handler only
//! marks the signal for the interpreter, which looks at it when the call returns; for the
//! length of a call a handler of ours stands in front of it: it records the signal for the
//! call's cancel token (`cancel::signal`) and passes it on to Python's handler, so that
//! Python raises KeyboardInterrupt as soon as the call has stopped. Installed only where
//! Python handles SIGINT (not where it is ignored or left to its default), and taken away
//! when the call ends.

#[cfg(unix)]
mod imp {
    use crate::numerics::cancel;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// The handler in front of ours and its flags, for the handler to pass the signal on.
    static PREVIOUS: AtomicUsize = AtomicUsize::new(0);
    static PREVIOUS_FLAGS: AtomicUsize = AtomicUsize::new(0);

    extern "C" fn on_sigint(sig: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
        cancel::signal();
        let previous = PREVIOUS.load(Ordering::Relaxed);
        if previous == libc::SIG_DFL || previous == libc::SIG_IGN {
            return;
        }
        // SAFETY: `previous` is the handler sigaction reported for SIGINT before ours, of the
        // kind its flags say
        unsafe {
            if PREVIOUS_FLAGS.load(Ordering::Relaxed) & libc::SA_SIGINFO as usize != 0 {
                let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) = std::mem::transmute(previous);
                f(sig, info, context);
            } else {
                let f: extern "C" fn(libc::c_int) = std::mem::transmute(previous);
                f(sig);
            }
        }
    }

    /// Whether this is the process's main thread (the one Python runs signal handlers on).
    fn on_main_thread() -> bool {
        #[cfg(target_os = "linux")]
        {
            // SAFETY: plain system calls without arguments
            unsafe { libc::gettid() == libc::getpid() }
        }
        #[cfg(target_os = "macos")]
        {
            // SAFETY: a query without arguments
            unsafe { libc::pthread_main_np() == 1 }
        }
        #[cfg(not(any(target_os = "linux", target_os = "macos")))]
        {
            false
        }
    }

    /// Our handler, in front of Python's until dropped.
    pub struct Hook {
        previous: libc::sigaction,
    }

    impl Hook {
        /// Stand in front of Python's SIGINT handler, when this is the main thread and SIGINT
        /// has a handler; signals recorded before are forgotten.
        pub fn install() -> Option<Hook> {
            if !on_main_thread() {
                return None;
            }
            // SAFETY: sigaction with valid pointers; the new action's handler is a valid
            // extern "C" function of the SA_SIGINFO kind
            unsafe {
                let mut previous: libc::sigaction = std::mem::zeroed();
                if libc::sigaction(libc::SIGINT, std::ptr::null(), &mut previous) != 0 {
                    return None;
                }
                if previous.sa_sigaction == libc::SIG_DFL || previous.sa_sigaction == libc::SIG_IGN || previous.sa_sigaction == on_sigint as *const () as usize {
                    return None;
                }
                PREVIOUS.store(previous.sa_sigaction, Ordering::Relaxed);
                PREVIOUS_FLAGS.store(previous.sa_flags as usize, Ordering::Relaxed);
                cancel::clear_signal();
                let mut ours: libc::sigaction = std::mem::zeroed();
                ours.sa_sigaction = on_sigint as *const () as usize;
                ours.sa_flags = (previous.sa_flags | libc::SA_SIGINFO) & !libc::SA_RESETHAND;
                ours.sa_mask = previous.sa_mask;
                (libc::sigaction(libc::SIGINT, &ours, std::ptr::null_mut()) == 0).then_some(Hook { previous })
            }
        }
    }

    impl Drop for Hook {
        fn drop(&mut self) {
            // SAFETY: restores the action read in `install`
            unsafe {
                libc::sigaction(libc::SIGINT, &self.previous, std::ptr::null_mut());
            }
        }
    }
}

#[cfg(not(unix))]
mod imp {
    /// Without POSIX signals a call is stopped only through its token (`Progress.cancel`).
    pub struct Hook;

    impl Hook {
        pub fn install() -> Option<Hook> {
            None
        }
    }
}

pub use imp::Hook;
