//! Small dense symmetric positive definite matrices: the per-cluster d × d blocks
//! (d = number of random effects per level, typically 1–3), factored with faer's Cholesky.
//! Matrices are column-major slices.

use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::cholesky::llt::factor::{cholesky_in_place, cholesky_in_place_scratch};
use faer::linalg::triangular_solve::{solve_lower_triangular_in_place, solve_upper_triangular_in_place};
use faer::{MatMut, MatRef, Par};

/// Cholesky factor L (lower) of a small SPD matrix A = LLᵀ, with the solves the glmm kernels
/// use. The scalar case skips faer entirely.
pub struct SmallChol {
    d: usize,
    l: Vec<f64>,
    scratch: MemBuffer,
}

impl SmallChol {
    /// Workspace for d × d matrices.
    pub fn new(d: usize) -> Self {
        let req = cholesky_in_place_scratch::<f64>(d, Par::Seq, Default::default());
        SmallChol { d, l: vec![0.0; d * d], scratch: MemBuffer::new(req) }
    }

    /// Factor `a` (only its lower triangle is read). Returns false if `a` is not positive
    /// definite (or not finite).
    pub fn factor(&mut self, a: &[f64]) -> bool {
        let d = self.d;
        if d == 1 {
            self.l[0] = a[0].sqrt();
            return a[0] > 0.0 && a[0].is_finite();
        }
        self.l.copy_from_slice(&a[..d * d]);
        if self.l.iter().any(|v| !v.is_finite()) {
            return false;
        }
        let m = MatMut::from_column_major_slice_mut(&mut self.l, d, d);
        let ok = cholesky_in_place(m, Default::default(), Par::Seq, MemStack::new(&mut self.scratch), Default::default()).is_ok();
        for c in 1..d {
            for r in 0..c {
                self.l[r + c * d] = 0.0;
            }
        }
        ok
    }

    /// The factor L (column-major, upper triangle zero).
    pub fn l(&self) -> &[f64] {
        &self.l
    }

    /// log det A = 2 Σ log Lᵢᵢ.
    pub fn logdet(&self) -> f64 {
        (0..self.d).map(|i| self.l[i + i * self.d].ln()).sum::<f64>() * 2.0
    }

    /// b ← L⁻¹ b.
    pub fn solve_l(&self, b: &mut [f64]) {
        if self.d == 1 {
            b[0] /= self.l[0];
            return;
        }
        let l = MatRef::from_column_major_slice(&self.l, self.d, self.d);
        solve_lower_triangular_in_place(l, MatMut::from_column_major_slice_mut(b, self.d, 1), Par::Seq);
    }

    /// b ← L⁻ᵀ b.
    pub fn solve_lt(&self, b: &mut [f64]) {
        if self.d == 1 {
            b[0] /= self.l[0];
            return;
        }
        let l = MatRef::from_column_major_slice(&self.l, self.d, self.d);
        solve_upper_triangular_in_place(l.transpose(), MatMut::from_column_major_slice_mut(b, self.d, 1), Par::Seq);
    }

    /// b ← A⁻¹ b.
    pub fn solve(&self, b: &mut [f64]) {
        self.solve_l(b);
        self.solve_lt(b);
    }

    /// A⁻¹ into `out` (column-major, full).
    pub fn inverse_into(&self, out: &mut [f64]) {
        let d = self.d;
        out[..d * d].fill(0.0);
        for c in 0..d {
            out[c + c * d] = 1.0;
            self.solve(&mut out[c * d..(c + 1) * d]);
        }
    }
}

/// A ← A + w·x·xᵀ on the lower triangle (column-major d × d).
#[inline]
pub fn syr_lower(a: &mut [f64], d: usize, w: f64, x: &[f64]) {
    for c in 0..d {
        let wxc = w * x[c];
        for r in c..d {
            a[r + c * d] += wxc * x[r];
        }
    }
}

/// Copy the lower triangle of a column-major d × d matrix to its upper triangle.
#[inline]
pub fn fill_upper(a: &mut [f64], d: usize) {
    for c in 0..d {
        for r in c + 1..d {
            a[c + r * d] = a[r + c * d];
        }
    }
}

/// C = A·B for column-major d × d matrices.
pub fn matmul(a: &[f64], b: &[f64], d: usize, out: &mut [f64]) {
    for c in 0..d {
        for r in 0..d {
            out[r + c * d] = (0..d).map(|k| a[r + k * d] * b[k + c * d]).sum();
        }
    }
}

/// xᵀ A x for a column-major symmetric d × d matrix A.
#[inline]
pub fn quad_form(a: &[f64], d: usize, x: &[f64]) -> f64 {
    let mut s = 0.0;
    for c in 0..d {
        let mut t = 0.0;
        for r in 0..d {
            t += a[r + c * d] * x[r];
        }
        s += t * x[c];
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solves_and_inverts() {
        let a = [4.0, 2.0, 0.6, 2.0, 3.0, 0.4, 0.6, 0.4, 2.0];
        let mut ch = SmallChol::new(3);
        assert!(ch.factor(&a));
        let mut inv = [0.0; 9];
        ch.inverse_into(&mut inv);
        let mut prod = [0.0; 9];
        matmul(&a, &inv, 3, &mut prod);
        for r in 0..3 {
            for c in 0..3 {
                let e = if r == c { 1.0 } else { 0.0 };
                assert!((prod[r + c * 3] - e).abs() < 1e-14);
            }
        }
        let det: f64 = 4.0 * (3.0 * 2.0 - 0.16) - 2.0 * (2.0 * 2.0 - 0.4 * 0.6) + 0.6 * (2.0 * 0.4 - 3.0 * 0.6);
        assert!((ch.logdet() - det.ln()).abs() < 1e-13);
        assert!(!ch.factor(&[1.0, 2.0, 0.0, 2.0, 1.0, 0.0, 0.0, 0.0, 1.0]));
    }
}
