//! Data of an ordinal/nominal mixed model: the response as 0-based categories, the fixed
//! design with its proportional-odds (PO) / non-proportional-odds (NPO) layout, the random
//! design z = (1, w₁, …, w_r), and the clusters as contiguous row ranges.
//!
//! Rows arrive sorted by cluster (Python groups them by `id` value, so the caller's row order
//! does not matter); `starts[i]..starts[i+1]` are the rows of cluster i.

use crate::error::{Error, Result};

/// The link of the q = Q − 1 logits (Papageorgiou & Hinde 2012, §2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrdLink {
    /// cumulative logit: logit P(y ≤ c | b) = η_c
    CLogit,
    /// baseline-category logit, last category the baseline: log(p_c / p_Q) = η_c
    BLogit,
}

impl OrdLink {
    /// "clogit" or "blogit".
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "clogit" => Ok(OrdLink::CLogit),
            "blogit" => Ok(OrdLink::BLogit),
            _ => Err(Error::bad_input(format!("link must be \"clogit\" or \"blogit\", not \"{s}\""))),
        }
    }
}

/// Response, designs and cluster layout.
#[derive(Clone, Debug)]
pub struct OrdinalData {
    /// number of rows
    pub n: usize,
    /// number of logits, Q − 1
    pub q: usize,
    /// observed category of each row, 0..=q
    pub y: Vec<u32>,
    /// number of fixed columns T (without the intercept)
    pub t: usize,
    /// fixed design, row-major n × T (a row is read whole for every point)
    pub x: Vec<f64>,
    /// NPO flag per fixed column
    pub npo: Vec<bool>,
    /// first coefficient index (within β) of each fixed column
    pub coef_start: Vec<usize>,
    /// dimension of the random effect, 1 + r
    pub d: usize,
    /// random design, row-major n × d, first column all ones
    pub z: Vec<f64>,
    /// cluster boundaries, length m + 1
    pub starts: Vec<usize>,
    pub link: OrdLink,
}

impl OrdinalData {
    /// Check and lay out the data. `x` and `z` are column-major (n × T, n × d).
    #[allow(clippy::too_many_arguments)]
    pub fn new(y: &[u32], q: usize, x_colmajor: &[f64], t: usize, npo: &[bool], z_colmajor: &[f64], d: usize, starts: &[usize], link: OrdLink) -> Result<Self> {
        let n = y.len();
        if q < 1 {
            return Err(Error::bad_input("the response needs at least two categories"));
        }
        if let Some(&bad) = y.iter().find(|&&v| v as usize > q) {
            return Err(Error::bad_input(format!("response category index {bad} is out of range 0..={q}")));
        }
        if x_colmajor.len() != n * t || npo.len() != t {
            return Err(Error::bad_input(format!("X must be {n} x {t} with one NPO flag per column")));
        }
        if d < 1 || z_colmajor.len() != n * d {
            return Err(Error::bad_input(format!("Z must be {n} x {d} with d >= 1")));
        }
        let ok_starts = starts.len() >= 2 && starts[0] == 0 && *starts.last().unwrap_or(&0) == n && starts.windows(2).all(|w| w[0] < w[1]);
        if !ok_starts {
            return Err(Error::bad_input("cluster starts must increase strictly from 0 to the number of rows"));
        }
        if x_colmajor.iter().chain(z_colmajor).any(|v| !v.is_finite()) {
            return Err(Error::bad_input("the designs contain non-finite values"));
        }
        let row_major = |a: &[f64], k: usize| -> Vec<f64> { (0..n).flat_map(|i| (0..k).map(move |j| a[i + j * n])).collect() };
        let mut coef_start = Vec::with_capacity(t);
        let mut next = 0;
        for &f in npo {
            coef_start.push(next);
            next += if f { q } else { 1 };
        }
        Ok(OrdinalData { n, q, y: y.to_vec(), t, x: row_major(x_colmajor, t), npo: npo.to_vec(), coef_start, d, z: row_major(z_colmajor, d), starts: starts.to_vec(), link })
    }

    /// Number of clusters m.
    pub fn n_clusters(&self) -> usize {
        self.starts.len() - 1
    }

    /// Number of regression coefficients n_p (PO columns count once, NPO columns q times).
    pub fn n_beta(&self) -> usize {
        self.npo.iter().map(|&f| if f { self.q } else { 1 }).sum()
    }

    /// Fixed part of the linear predictors, row-major n × q: η_c = α_c + Σ_u x_u β_{u(,c)}.
    pub fn eta_fixed(&self, alpha: &[f64], beta: &[f64]) -> Vec<f64> {
        let q = self.q;
        let mut eta = vec![0.0; self.n * q];
        for (row, e) in eta.chunks_exact_mut(q).enumerate() {
            e.copy_from_slice(alpha);
            let x = &self.x[row * self.t..(row + 1) * self.t];
            for (u, &xu) in x.iter().enumerate() {
                let s = self.coef_start[u];
                if self.npo[u] {
                    e.iter_mut().zip(&beta[s..s + q]).for_each(|(e, b)| *e += xu * b);
                } else {
                    e.iter_mut().for_each(|e| *e += xu * beta[s]);
                }
            }
        }
        eta
    }

    /// Add ∂ℓ/∂η of one row (`r`, length q, already weighted) to the gradients of α and β.
    #[inline]
    pub fn add_fixed_grad(&self, row: usize, r: &[f64], g_alpha: &mut [f64], g_beta: &mut [f64]) {
        let q = self.q;
        g_alpha.iter_mut().zip(r).for_each(|(g, r)| *g += r);
        let total: f64 = r.iter().sum();
        let x = &self.x[row * self.t..(row + 1) * self.t];
        for (u, &xu) in x.iter().enumerate() {
            let s = self.coef_start[u];
            if self.npo[u] {
                g_beta[s..s + q].iter_mut().zip(r).for_each(|(g, r)| *g += xu * r);
            } else {
                g_beta[s] += xu * total;
            }
        }
    }
}

/// Small simulated data sets for the unit tests of the npml modules.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;
    use crate::npml::model::NpmlModel;

    /// 40 clusters of 1–6 rows, Q = 4, one PO and one NPO covariate, random design of
    /// dimension d (intercept, then a cluster-level and a row-level slope).
    pub(crate) fn small_data(d: usize, link: OrdLink) -> OrdinalData {
        let mut y = Vec::new();
        let (mut x1, mut x2, mut w1, mut w2) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut starts = vec![0];
        let mut state = 12345u64;
        let mut unif = || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((state >> 11) as f64) / ((1u64 << 53) as f64)
        };
        for i in 0..40 {
            let n_i = 1 + (i % 6);
            let g = if i % 2 == 0 { 1.0 } else { 0.0 };
            let b = 1.5 * (unif() - 0.5);
            for j in 0..n_i {
                let t = j as f64 / 2.0;
                let eta = b + 0.8 * t - 0.5 * g;
                let u = unif();
                let cat = [-1.0, 0.3, 1.5].iter().filter(|&&c| u > 1.0 / (1.0 + (-(c - eta)).exp())).count();
                y.push(cat as u32);
                x1.push(t);
                x2.push(g);
                w1.push(g);
                w2.push(t);
            }
            starts.push(y.len());
        }
        let n = y.len();
        let x: Vec<f64> = x1.into_iter().chain(x2).collect();
        let z: Vec<f64> = std::iter::repeat_n(1.0, n).chain(w1).chain(w2).take(n * d).collect();
        OrdinalData::new(&y, 3, &x, 2, &[false, true], &z, d, &starts, link).unwrap()
    }

    pub(crate) fn small_model(k: usize, d: usize) -> NpmlModel {
        NpmlModel::new(small_data(d, OrdLink::CLogit), k)
    }
}
