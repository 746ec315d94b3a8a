//! The relative covariance factor of one grouping factor's random effects.
//!
//! With b = Λu and u ~ N(0, I), the random effects of one level have covariance ΛΛᵀ.
//! Λ is d × d lower triangular and block diagonal by random-effects term; θ holds its free
//! entries in lme4's order (term by term, each term's lower triangle column by column).
//! Diagonal entries are bounded below by 0 (Bates et al. 2015, §3.1).

use crate::error::{Error, Result};

/// Where θ goes in Λ.
#[derive(Clone, Debug)]
pub struct ReTemplate {
    /// number of random effects per level
    pub d: usize,
    /// (row, column) in Λ of each θ
    pub pos: Vec<(usize, usize)>,
}

impl ReTemplate {
    /// A template from the positions of θ in Λ; each position must be on or below the diagonal
    /// and appear once.
    pub fn new(d: usize, rows: &[u32], cols: &[u32]) -> Result<Self> {
        if rows.len() != cols.len() {
            return Err(Error::bad_input("theta rows and columns differ in length"));
        }
        let mut seen = vec![false; d * d];
        let mut pos = Vec::with_capacity(rows.len());
        for (&r, &c) in rows.iter().zip(cols) {
            let (r, c) = (r as usize, c as usize);
            if r >= d || c > r || seen[r + c * d] {
                return Err(Error::bad_input(format!("invalid theta position ({r}, {c}) for d = {d}")));
            }
            seen[r + c * d] = true;
            pos.push((r, c));
        }
        if (0..d).any(|i| !seen[i + i * d]) {
            return Err(Error::bad_input("every diagonal element of Lambda needs a theta"));
        }
        Ok(ReTemplate { d, pos })
    }

    /// The full lower triangle of a single d-dimensional term (lme4's default).
    pub fn full(d: usize) -> Self {
        let pos = (0..d).flat_map(|c| (c..d).map(move |r| (r, c))).collect();
        ReTemplate { d, pos }
    }

    /// Number of covariance parameters.
    pub fn n_theta(&self) -> usize {
        self.pos.len()
    }

    /// Lower bound of each θ: 0 on the diagonal of Λ, −∞ below it.
    pub fn lower_bounds(&self) -> Vec<f64> {
        self.pos.iter().map(|&(r, c)| if r == c { 0.0 } else { f64::NEG_INFINITY }).collect()
    }

    /// lme4's starting value: Λ = I.
    pub fn theta_start(&self) -> Vec<f64> {
        self.pos.iter().map(|&(r, c)| if r == c { 1.0 } else { 0.0 }).collect()
    }

    /// Λ(θ), column-major d × d.
    pub fn lambda(&self, theta: &[f64]) -> Vec<f64> {
        let mut lam = vec![0.0; self.d * self.d];
        for (&(r, c), &t) in self.pos.iter().zip(theta) {
            lam[r + c * self.d] = t;
        }
        lam
    }

    /// Pick θ's entries out of a d × d matrix (column-major): the gradient with respect to θ
    /// from the gradient with respect to the entries of Λ.
    pub fn gather(&self, dlam: &[f64]) -> Vec<f64> {
        self.pos.iter().map(|&(r, c)| dlam[r + c * self.d]).collect()
    }
}

/// Λ of each term (column-major d × d, lower triangular; `ds` the terms' d) from θ in lme4's
/// order: term by term, each lower triangle column by column.
pub fn lambda_of(ds: impl IntoIterator<Item = usize>, theta: &[f64]) -> Vec<Vec<f64>> {
    let mut k = 0;
    ds.into_iter()
        .map(|d| {
            let mut lam = vec![0.0; d * d];
            for c in 0..d {
                for r in c..d {
                    lam[r + c * d] = theta[k];
                    k += 1;
                }
            }
            lam
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_template_is_lme4_order() {
        let t = ReTemplate::full(2);
        assert_eq!(t.pos, vec![(0, 0), (1, 0), (1, 1)]);
        assert_eq!(t.lambda(&[1.0, 2.0, 3.0]), vec![1.0, 2.0, 0.0, 3.0]);
        assert_eq!(t.lower_bounds()[1], f64::NEG_INFINITY);
    }

    #[test]
    fn rejects_upper_triangle() {
        assert!(ReTemplate::new(2, &[0], &[1]).is_err());
    }
}
