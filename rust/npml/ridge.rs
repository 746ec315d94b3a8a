//! Detecting support points that run off to infinity along a flat ridge of the likelihood, and
//! points that carry no mass.
//!
//! The data a point explains are its clusters, weighted by their posterior probabilities w_il.
//! Their information about the point's location is
//!
//!   I_l = Σ_i w_il Σ_j (−∂² log p_ij / ∂s²) z_ij z_ijᵀ        (d × d),
//!
//! which is of the order of the effective number of clusters n_l = Σ_i w_il for a point the data
//! pin down. When every row those clusters contribute has a probability saturated at 0 or 1 in
//! some direction of b_l (a random slope on a cluster-level covariate, say), the likelihood no
//! longer depends on b_l in that direction: I_l has an eigenvalue ≈ 0 and the supremum is
//! approached only as the point goes to infinity (Aitkin 1999 §4 on infinite mass points).

use crate::npml::lik::row_terms;
use crate::npml::model::{NpmlModel, NpmlParams};

/// Information per effective cluster below which a direction counts as flat.
const FLAT: f64 = 1e-3;
/// Effective number of clusters below which a point counts as carrying no mass.
const EMPTY: f64 = 0.5;

/// What is wrong with one support point.
#[derive(Clone, Debug, PartialEq)]
pub enum PointIssue {
    /// the likelihood is flat in direction `dir` of the point: it diverges along a ridge
    Ridge { point: usize, info_per_cluster: f64, dir: Vec<f64> },
    /// the point's posterior mass adds up to less than half a cluster
    Empty { point: usize, n_eff: f64 },
}

/// Smallest eigenvalue and its eigenvector of a symmetric d × d matrix (column-major).
fn min_eigen(a: &[f64], d: usize) -> (f64, Vec<f64>) {
    let m = faer::Mat::<f64>::from_fn(d, d, |i, j| a[i + j * d]);
    match m.self_adjoint_eigen(faer::Side::Lower) {
        Ok(evd) => (evd.S()[0], (0..d).map(|i| evd.U()[(i, 0)]).collect()),
        Err(_) => (f64::NAN, vec![f64::NAN; d]),
    }
}

/// Issues of the support points at `p`, given the posterior weights (m × K).
pub fn point_issues(model: &NpmlModel, p: &NpmlParams, post: &[f64]) -> Vec<PointIssue> {
    let (data, k, d) = (&model.data, model.k, model.data.d);
    if k == 1 {
        return vec![];
    }
    let eta_fix = data.eta_fixed(&p.alpha, &p.beta);
    let mut info = vec![0.0; k * d * d];
    let mut n_eff = vec![0.0; k];
    let (mut eta, mut r) = (vec![0.0; data.q], vec![0.0; data.q]);
    for i in 0..data.n_clusters() {
        for l in 0..k {
            let w = post[i * k + l];
            n_eff[l] += w;
            if w < 1e-12 {
                continue;
            }
            let b = &p.points[l * d..(l + 1) * d];
            for row in data.starts[i]..data.starts[i + 1] {
                let z = &data.z[row * d..(row + 1) * d];
                let shift: f64 = z.iter().zip(b).map(|(z, b)| z * b).sum();
                eta.iter_mut().zip(&eta_fix[row * data.q..(row + 1) * data.q]).for_each(|(e, f)| *e = f + shift);
                let c = -w * row_terms(data.link, &eta, data.y[row] as usize, &mut r).ds2;
                let a = &mut info[l * d * d..(l + 1) * d * d];
                crate::numerics::linalg::syr_lower(a, d, c, z);
            }
        }
    }
    let mut issues = vec![];
    for l in 0..k {
        if !(n_eff[l] >= EMPTY) {
            issues.push(PointIssue::Empty { point: l, n_eff: n_eff[l] });
            continue;
        }
        let (lam, dir) = min_eigen(&info[l * d * d..(l + 1) * d * d], d);
        let per_cluster = lam / n_eff[l];
        if !(per_cluster >= FLAT) {
            issues.push(PointIssue::Ridge { point: l, info_per_cluster: per_cluster, dir });
        }
    }
    issues
}
