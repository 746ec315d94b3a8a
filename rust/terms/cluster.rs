//! Observations grouped by cluster (level of the grouping factor), stored contiguously so that
//! each cluster's work touches one block of memory. Rows keep their original order inside a
//! cluster (a stable counting sort), so results do not depend on how the input was sorted.
//!
//! Everything but the response is shared (`Arc`): a copy made to refit the model to a new
//! response (simulation studies, bootstrap) owns only that response.

use crate::error::{Error, Result};
use std::sync::Arc;

/// Response, prior weights, offset and the fixed- and random-effects rows, by cluster.
#[derive(Clone, Debug)]
pub struct Clustered {
    /// number of observations
    pub n: usize,
    /// number of fixed-effects columns
    pub p: usize,
    /// number of random effects per cluster
    pub d: usize,
    /// response (binomial: proportion of successes)
    pub y: Vec<f64>,
    /// prior weights (binomial: number of trials)
    pub m: Arc<[f64]>,
    /// offset added to the linear predictor
    pub offset: Arc<[f64]>,
    /// fixed-effects rows, row-major n × p
    pub x: Arc<[f64]>,
    /// random-effects rows, row-major n × d
    pub z: Arc<[f64]>,
    /// cluster `i` holds rows `start[i]..start[i+1]`
    pub start: Arc<[usize]>,
    /// frequency of each cluster (how many identical clusters it stands for)
    pub freq: Arc<[f64]>,
    /// `order[k]` = original row of internal row `k`
    pub order: Arc<[usize]>,
}

/// One cluster's rows.
#[derive(Clone, Copy)]
pub struct Cluster<'a> {
    pub y: &'a [f64],
    pub m: &'a [f64],
    pub offset: &'a [f64],
    pub x: &'a [f64],
    pub z: &'a [f64],
    pub freq: f64,
    /// columns of x
    pub p: usize,
    /// columns of z
    pub d: usize,
}

impl<'a> Cluster<'a> {
    /// Number of observations in the cluster.
    pub fn len(&self) -> usize {
        self.y.len()
    }

    /// Whether the cluster has no observations.
    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
    }
}

impl Clustered {
    /// Group the rows by `group` (codes 0..n_groups). `x` and `z` are column-major (n × p,
    /// n × d) as numpy's Fortran order; `freq` has one entry per group.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        y: &[f64],
        m: &[f64],
        offset: &[f64],
        x_colmajor: &[f64],
        p: usize,
        z_colmajor: &[f64],
        d: usize,
        group: &[u32],
        n_groups: usize,
        freq: &[f64],
    ) -> Result<Self> {
        let n = y.len();
        check_len("weights", m.len(), n)?;
        check_len("offset", offset.len(), n)?;
        check_len("X", x_colmajor.len(), n * p)?;
        check_len("Z", z_colmajor.len(), n * d)?;
        check_len("group", group.len(), n)?;
        check_len("group frequencies", freq.len(), n_groups)?;
        let start = cluster_starts(group, n_groups)?;
        let order = stable_order(group, &start);
        let gather_rows = |src: &[f64], k: usize| -> Vec<f64> {
            let mut out = vec![0.0; n * k];
            for (row, &orig) in order.iter().enumerate() {
                for c in 0..k {
                    out[row * k + c] = src[orig + c * n];
                }
            }
            out
        };
        Ok(Clustered {
            n,
            p,
            d,
            y: order.iter().map(|&i| y[i]).collect(),
            m: order.iter().map(|&i| m[i]).collect(),
            offset: order.iter().map(|&i| offset[i]).collect(),
            x: gather_rows(x_colmajor, p).into(),
            z: gather_rows(z_colmajor, d).into(),
            start: start.into(),
            freq: freq.into(),
            order: order.into(),
        })
    }

    /// Number of clusters.
    pub fn n_clusters(&self) -> usize {
        self.start.len() - 1
    }

    /// Cluster `i`.
    pub fn cluster(&self, i: usize) -> Cluster<'_> {
        let (a, b) = (self.start[i], self.start[i + 1]);
        Cluster {
            y: &self.y[a..b],
            m: &self.m[a..b],
            offset: &self.offset[a..b],
            x: &self.x[a * self.p..b * self.p],
            z: &self.z[a * self.d..b * self.d],
            freq: self.freq[i],
            p: self.p,
            d: self.d,
        }
    }

    /// Size of the largest cluster.
    pub fn max_cluster_size(&self) -> usize {
        self.start.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0)
    }

    /// Frequency of the cluster holding each internal row.
    pub fn row_freq(&self) -> Vec<f64> {
        let mut out = vec![0.0; self.n];
        for i in 0..self.n_clusters() {
            out[self.start[i]..self.start[i + 1]].fill(self.freq[i]);
        }
        out
    }

    /// Replace the response, given in the original row order.
    pub fn set_response(&mut self, y: &[f64]) -> Result<()> {
        check_len("response", y.len(), self.n)?;
        for (k, &orig) in self.order.iter().enumerate() {
            self.y[k] = y[orig];
        }
        Ok(())
    }

    /// Put internal-order values back into the original row order.
    pub fn to_original_order(&self, internal: &[f64]) -> Vec<f64> {
        let mut out = vec![0.0; self.n];
        for (k, &orig) in self.order.iter().enumerate() {
            out[orig] = internal[k];
        }
        out
    }
}

fn check_len(what: &str, got: usize, want: usize) -> Result<()> {
    if got == want {
        Ok(())
    } else {
        Err(Error::bad_input(format!("{what} has {got} entries, expected {want}")))
    }
}

/// Start offsets of each cluster; every group code must be < n_groups and every group used.
fn cluster_starts(group: &[u32], n_groups: usize) -> Result<Vec<usize>> {
    let mut counts = vec![0usize; n_groups];
    for &g in group {
        let g = g as usize;
        if g >= n_groups {
            return Err(Error::bad_input(format!("group code {g} is not below the number of groups {n_groups}")));
        }
        counts[g] += 1;
    }
    if let Some(empty) = counts.iter().position(|&c| c == 0) {
        return Err(Error::bad_input(format!("group {empty} has no observations")));
    }
    let mut start = Vec::with_capacity(n_groups + 1);
    start.push(0);
    for c in counts {
        start.push(start.last().unwrap() + c);
    }
    Ok(start)
}

/// Rows sorted by group, original order kept within a group.
fn stable_order(group: &[u32], start: &[usize]) -> Vec<usize> {
    let mut next = start[..start.len() - 1].to_vec();
    let mut order = vec![0usize; group.len()];
    for (row, &g) in group.iter().enumerate() {
        order[next[g as usize]] = row;
        next[g as usize] += 1;
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_rows_stably() {
        let y = [0.0, 1.0, 2.0, 3.0];
        let one = [1.0; 4];
        let x = [10.0, 11.0, 12.0, 13.0];
        let c = Clustered::new(&y, &one, &[0.0; 4], &x, 1, &one, 1, &[1, 0, 1, 0], 2, &[1.0, 2.0]).unwrap();
        assert_eq!(&c.order[..], &[1, 3, 0, 2]);
        assert_eq!(c.cluster(1).y, &[0.0, 2.0]);
        assert_eq!(c.cluster(0).x, &[11.0, 13.0]);
        assert_eq!(c.to_original_order(&c.y), y.to_vec());
    }

    #[test]
    fn rejects_empty_group() {
        let one = [1.0; 2];
        assert!(Clustered::new(&one, &one, &[0.0; 2], &one, 1, &one, 1, &[0, 0], 2, &[1.0, 1.0]).is_err());
    }
}
