//! Errors of the numerical core. Variants carry the data a message needs; `py/mod.rs` maps them
//! to Python exception classes (`ModelSpecError`, `NumericalError`, `ConvergenceError`).

use thiserror::Error;

/// Everything that can go wrong inside the Rust core.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum Error {
    /// An argument has the wrong length, shape or value.
    #[error("{what}")]
    BadInput { what: String },

    /// A family/link pair that is not implemented.
    #[error("link \"{link}\" is not available for family \"{family}\"; use one of: {choices}")]
    BadLink { family: String, link: String, choices: String },

    /// A matrix that must be positive definite is not.
    #[error("{what} is not positive definite{}", .block.map(|b| format!(" (cluster {b})")).unwrap_or_default())]
    NotPositiveDefinite { what: &'static str, block: Option<usize> },

    /// Penalised IRLS could not reduce the penalised deviance.
    #[error("penalised IRLS could not reduce the penalised deviance (cluster {cluster}); the linear predictor may be diverging (separation?)")]
    PirlsStepHalving { cluster: usize },

    /// The objective is not finite at the starting values.
    #[error("the objective is not finite at the starting values ({what})")]
    NonFiniteStart { what: String },

    /// Memory asked for could not be had (checked before allocating, never an abort).
    #[error("{what} needs {bytes} bytes, more than this machine can allocate")]
    OutOfMemory { what: String, bytes: u128 },

    /// The call was asked to stop (Ctrl-C) before it finished.
    #[error("interrupted")]
    Interrupted,
}

/// Result type of the core.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// Shorthand for [`Error::BadInput`].
    pub fn bad_input(what: impl Into<String>) -> Self {
        Error::BadInput { what: what.into() }
    }
}
