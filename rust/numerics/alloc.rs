//! Allocations whose size a caller chose (replicates × rows, …): asked for before they are
//! made, so that too large a request is an error and not an abort of the process.

use crate::error::{Error, Result};

/// `len` zeros (`None`: a length past `usize`), or `OutOfMemory` naming `what`.
pub fn zeros(len: Option<usize>, what: impl FnOnce() -> String) -> Result<Vec<f64>> {
    let too_large = |len: Option<usize>, what: String| Error::OutOfMemory { what, bytes: len.map_or(u128::MAX, |l| l as u128 * 8) };
    let Some(n) = len else { return Err(too_large(None, what())) };
    let mut v = Vec::new();
    v.try_reserve_exact(n).map_err(|_| too_large(len, what()))?;
    v.resize(n, 0.0);
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_impossible_size_is_an_error_not_an_abort() {
        assert_eq!(zeros(Some(3), String::new).unwrap(), vec![0.0; 3]);
        let e = zeros(Some(usize::MAX / 16), || "the array".into()).unwrap_err();
        assert!(matches!(e, Error::OutOfMemory { .. }) && e.to_string().starts_with("the array needs"));
        assert!(zeros(None, || "x".into()).is_err());
    }
}
