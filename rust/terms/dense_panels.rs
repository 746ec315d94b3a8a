//! The dense part T of the blocked system, factored and inverted a panel of columns at a time,
//! so that a long factorisation looks at the call's cancel token between panels (Ctrl-C within
//! a panel's time, milliseconds, instead of the whole factorisation's).
//!
//! Cholesky, right-looking by panels of `PANEL` columns: L₁₁ = chol(A₁₁), L₂₁ = A₂₁L₁₁⁻ᵀ,
//! A₂₂ ← A₂₂ − L₂₁L₂₁ᵀ (lower triangle). Inverse from L: X = L⁻¹, then C⁻¹ = XᵀX a panel of
//! columns at a time, using that X is lower triangular: (C⁻¹)[p₀.., P] = X[p₀.., p₀..]ᵀ X[p₀.., P].
//! A matrix of fewer than `PANELS_FROM` columns goes to faer in one call, as before: up to there
//! one call takes under ~0.1 s, and the panels' extra passes over the trailing matrix would cost
//! (InstEval's 1,159 columns: 5–35% of the fit at 256- or 512-column panels).

use crate::error::{Error, Result};
use crate::numerics::cancel;
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::cholesky::llt;
use faer::linalg::matmul::triangular::{BlockStructure, matmul};
use faer::linalg::triangular_inverse::invert_lower_triangular;
use faer::linalg::triangular_solve::solve_lower_triangular_in_place;
use faer::reborrow::{Reborrow, ReborrowMut};
use faer::{Accum, Mat, MatMut, MatRef, Par};

/// Columns per panel.
pub const PANEL: usize = 256;
/// Columns from which the dense part is factored and inverted by panels.
pub const PANELS_FROM: usize = 1536;

/// The lower Cholesky factor of `a` (lower triangle read and written) in place;
/// `NotPositiveDefinite` when `a` is not positive definite.
pub fn cholesky(mut a: MatMut<'_, f64>, par: Par) -> Result<()> {
    let n = a.nrows();
    if n < PANELS_FROM {
        return factor_block(a, par);
    }
    let token = cancel::current();
    let mut k0 = 0;
    while k0 < n {
        token.check()?;
        let nb = PANEL.min(n - k0);
        let (a11, _, mut a21, mut a22) = a.rb_mut().submatrix_mut(k0, k0, n - k0, n - k0).split_at_mut(nb, nb);
        let mut a11 = a11;
        factor_block(a11.rb_mut(), Par::Seq)?;
        if nb < n - k0 {
            solve_lower_triangular_in_place(a11.rb(), a21.rb_mut().transpose_mut(), par);
            matmul(a22.rb_mut(), BlockStructure::TriangularLower, Accum::Add, a21.rb(), BlockStructure::Rectangular, a21.rb().transpose(), BlockStructure::Rectangular, -1.0, par);
        }
        k0 += nb;
    }
    Ok(())
}

fn factor_block(a: MatMut<'_, f64>, par: Par) -> Result<()> {
    let mut mem = MemBuffer::new(llt::factor::cholesky_in_place_scratch::<f64>(a.nrows(), par, Default::default()));
    llt::factor::cholesky_in_place(a, Default::default(), par, MemStack::new(&mut mem), Default::default()).map(|_| ()).map_err(|_| not_positive_definite())
}

/// The lower triangle of C⁻¹ = (LLᵀ)⁻¹ into `out` from the lower Cholesky factor `l`.
pub fn inverse(mut out: MatMut<'_, f64>, l: MatRef<'_, f64>, par: Par) -> Result<()> {
    let n = l.nrows();
    if n < PANELS_FROM {
        let mut mem = MemBuffer::new(llt::inverse::inverse_scratch::<f64>(n, par));
        llt::inverse::inverse(out, l, par, MemStack::new(&mut mem));
        return Ok(());
    }
    let token = cancel::current();
    let mut x = Mat::<f64>::zeros(n, n);
    invert_lower_triangular(x.as_mut(), l, par);
    let mut p0 = 0;
    while p0 < n {
        token.check()?;
        let nb = PANEL.min(n - p0);
        let below = x.as_ref().submatrix(p0, p0, n - p0, n - p0);
        let panel = x.as_ref().submatrix(p0, p0, n - p0, nb);
        matmul(out.rb_mut().submatrix_mut(p0, p0, n - p0, nb), BlockStructure::Rectangular, Accum::Replace, below.transpose(), BlockStructure::Rectangular, panel, BlockStructure::Rectangular, 1.0, par);
        p0 += nb;
    }
    Ok(())
}

/// `NotPositiveDefinite` for the dense part.
fn not_positive_definite() -> Error {
    Error::NotPositiveDefinite { what: "the dense block of the penalised system (are the fixed effects collinear?)", block: None }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spd(n: usize) -> Mat<f64> {
        let g = Mat::<f64>::from_fn(n, n, |i, j| ((i * 7 + j * 13) % 17) as f64 / 17.0 - 0.5);
        let mut a = &g * g.transpose();
        (0..n).for_each(|i| a[(i, i)] += n as f64 * 0.05 + 1.0);
        a
    }

    #[test]
    fn panels_give_the_factor_and_the_inverse() {
        let n = PANELS_FROM + PANEL / 2 + 37;
        let a = spd(n);
        let mut l = a.clone();
        cholesky(l.as_mut(), Par::Seq).unwrap();
        let lower = Mat::<f64>::from_fn(n, n, |i, j| if i >= j { l[(i, j)] } else { 0.0 });
        let back = &lower * lower.transpose();
        let err = (0..n).flat_map(|i| (0..n).map(move |j| (i, j))).map(|(i, j)| (back[(i, j)] - a[(i, j)]).abs()).fold(0.0, f64::max);
        assert!(err < 1e-10, "L Lᵀ - A: {err}");
        let mut z = Mat::<f64>::zeros(n, n);
        inverse(z.as_mut(), lower.as_ref(), Par::Seq).unwrap();
        let full = Mat::<f64>::from_fn(n, n, |i, j| if i >= j { z[(i, j)] } else { z[(j, i)] });
        let eye = &full * &a;
        let err = (0..n).flat_map(|i| (0..n).map(move |j| (i, j))).map(|(i, j)| (eye[(i, j)] - f64::from(i == j)).abs()).fold(0.0, f64::max);
        assert!(err < 1e-10, "C⁻¹C - I: {err}");
    }

    #[test]
    fn a_matrix_that_is_not_positive_definite_is_reported() {
        let n = PANELS_FROM + 10;
        let mut a = spd(n);
        a[(PANELS_FROM + 3, PANELS_FROM + 3)] = -5.0;
        assert!(matches!(cholesky(a.as_mut(), Par::Seq), Err(Error::NotPositiveDefinite { .. })));
    }
}
