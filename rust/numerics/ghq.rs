//! Gauss–Hermite quadrature rules for the standard normal density, and their product rules
//! for vector random effects.
//!
//! The k-point rule integrates ∫ f(z) φ(z) dz ≈ Σ wᵢ f(zᵢ) exactly for polynomials of degree
//! ≤ 2k − 1. Nodes and weights come from the eigen-decomposition of the Jacobi matrix of the
//! probabilists' Hermite polynomials (Golub & Welsch 1969): zero diagonal, off-diagonal √j.
//! The nodes are polished by Newton steps on the orthonormal Hermite polynomial hₖ and the
//! weights recomputed from the Christoffel formula wᵢ = 1 / Σⱼ hⱼ(zᵢ)², which keeps the small
//! tail weights accurate to relative precision (the eigenvector route does not).
//! The rule is then symmetrised (zᵢ = −z_{k+1−i}, equal weights, an exact 0 node for odd k)
//! so that odd moments vanish to the last bit; this is what makes `n_agq = 1` reproduce the
//! Laplace approximation exactly.

use crate::error::{Error, Result};
use faer::{Mat, Side};

/// Most nodes per dimension: past ~350 the tail weights underflow; 25 already integrates a
/// normal random effect to about 1e-10.
pub const MAX_NODES_PER_DIM: usize = 100;
/// Most nodes of a product rule (kᵈ).
pub const MAX_RULE_NODES: usize = 100_000;

/// `Ok` when a k-point rule in d dimensions is within the bounds above.
pub fn check_rule(k: usize, d: usize) -> Result<()> {
    let nodes = u32::try_from(d).ok().and_then(|d| k.checked_pow(d));
    if k > MAX_NODES_PER_DIM || nodes.is_none_or(|n| n > MAX_RULE_NODES) {
        return Err(Error::BadInput {
            what: format!("nagq must be at most {MAX_NODES_PER_DIM} nodes per dimension and {MAX_RULE_NODES} per cluster (nagq^d); got nagq = {k} in {d} dimension(s)"),
        });
    }
    Ok(())
}

/// A one-dimensional rule for the N(0, 1) density; weights sum to one.
#[derive(Clone, Debug)]
pub struct GhRule {
    pub nodes: Vec<f64>,
    pub weights: Vec<f64>,
}

impl GhRule {
    /// The `k`-point rule (`k ≥ 1`).
    pub fn new(k: usize) -> Self {
        assert!(k >= 1, "a Gauss-Hermite rule needs at least one node");
        if k == 1 {
            return GhRule { nodes: vec![0.0], weights: vec![1.0] };
        }
        let jacobi = Mat::<f64>::from_fn(k, k, |i, j| {
            if i + 1 == j || j + 1 == i { (i.max(j) as f64).sqrt() } else { 0.0 }
        });
        let evd = jacobi
            .self_adjoint_eigen(Side::Lower)
            .expect("the Jacobi matrix is symmetric tridiagonal");
        let mut nodes: Vec<f64> = (0..k).map(|i| evd.S()[i]).collect();
        nodes.sort_by(f64::total_cmp);
        for z in nodes.iter_mut() {
            for _ in 0..3 {
                let (hk, hk1, _) = orthonormal_hermite(k, *z);
                *z -= hk / ((k as f64).sqrt() * hk1);
            }
        }
        let mut weights: Vec<f64> = nodes.iter().map(|&z| 1.0 / orthonormal_hermite(k, z).2).collect();
        symmetrise(&mut nodes, &mut weights);
        let total: f64 = weights.iter().sum();
        weights.iter_mut().for_each(|w| *w /= total);
        GhRule { nodes, weights }
    }
}

/// (h_k(z), h_{k−1}(z), Σ_{j<k} h_j(z)²) for the Hermite polynomials orthonormal under N(0, 1):
/// h₀ = 1, h_{j+1} = (z·h_j − √j·h_{j−1}) / √(j+1).
fn orthonormal_hermite(k: usize, z: f64) -> (f64, f64, f64) {
    let (mut prev, mut cur, mut sum_sq) = (0.0, 1.0, 0.0);
    for j in 0..k {
        sum_sq += cur * cur;
        let next = (z * cur - (j as f64).sqrt() * prev) / ((j + 1) as f64).sqrt();
        prev = cur;
        cur = next;
    }
    (cur, prev, sum_sq)
}

/// Make the rule exactly symmetric about zero.
fn symmetrise(nodes: &mut [f64], weights: &mut [f64]) {
    let k = nodes.len();
    for i in 0..k / 2 {
        let j = k - 1 - i;
        let z = 0.5 * (nodes[j] - nodes[i]);
        let w = 0.5 * (weights[i] + weights[j]);
        nodes[i] = -z;
        nodes[j] = z;
        weights[i] = w;
        weights[j] = w;
    }
    if k % 2 == 1 {
        nodes[k / 2] = 0.0;
    }
}

/// The product of `d` copies of a `k`-point rule: kᵈ nodes in ℝᵈ for N(0, I_d).
#[derive(Clone, Debug)]
pub struct ProductRule {
    /// dimension of each node
    pub d: usize,
    /// nodes, node-major: node `i` is `z[i*d..(i+1)*d]`
    pub z: Vec<f64>,
    /// log of the product weights
    pub log_w: Vec<f64>,
    /// ½‖z‖² of each node
    pub half_sq: Vec<f64>,
}

impl ProductRule {
    /// The kᵈ-node product rule.
    pub fn new(k: usize, d: usize) -> Self {
        let rule = GhRule::new(k);
        let n_nodes = k.pow(d as u32);
        let mut z = Vec::with_capacity(n_nodes * d);
        let mut log_w = Vec::with_capacity(n_nodes);
        let mut half_sq = Vec::with_capacity(n_nodes);
        for idx in 0..n_nodes {
            let (mut rest, mut lw, mut sq) = (idx, 0.0, 0.0);
            for _ in 0..d {
                let i = rest % k;
                rest /= k;
                z.push(rule.nodes[i]);
                lw += rule.weights[i].ln();
                sq += rule.nodes[i] * rule.nodes[i];
            }
            log_w.push(lw);
            half_sq.push(0.5 * sq);
        }
        sort_by_weight(ProductRule { d, z, log_w, half_sq })
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.log_w.len()
    }

    /// Whether the rule has no nodes (never, for a constructed rule).
    pub fn is_empty(&self) -> bool {
        self.log_w.is_empty()
    }

    /// Node `i`.
    pub fn node(&self, i: usize) -> &[f64] {
        &self.z[i * self.d..(i + 1) * self.d]
    }
}

/// Heaviest nodes first, so that a running log-sum-exp meets its maximum early.
fn sort_by_weight(rule: ProductRule) -> ProductRule {
    let d = rule.d;
    let mut idx: Vec<usize> = (0..rule.log_w.len()).collect();
    idx.sort_by(|&a, &b| rule.log_w[b].total_cmp(&rule.log_w[a]).then(a.cmp(&b)));
    ProductRule {
        d,
        z: idx.iter().flat_map(|&i| rule.z[i * d..(i + 1) * d].iter().copied()).collect(),
        log_w: idx.iter().map(|&i| rule.log_w[i]).collect(),
        half_sq: idx.iter().map(|&i| rule.half_sq[i]).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normal_moment(p: u32) -> f64 {
        if p % 2 == 1 { 0.0 } else { (1..p).step_by(2).map(|x| x as f64).product() }
    }

    #[test]
    fn weights_sum_to_one_and_polynomials_are_exact() {
        for k in [1usize, 2, 3, 5, 10, 20, 25] {
            let r = GhRule::new(k);
            let s: f64 = r.weights.iter().sum();
            assert!((s - 1.0).abs() < 1e-14, "k={k} sum={s}");
            for p in 0..(2 * k as u32) {
                let terms: Vec<f64> = r.nodes.iter().zip(&r.weights).map(|(z, w)| w * z.powi(p as i32)).collect();
                let q: f64 = terms.iter().sum();
                // rounding is relative to the size of the terms summed, not to the result
                let scale: f64 = terms.iter().map(|t| t.abs()).sum::<f64>().max(1.0);
                let exact = normal_moment(p);
                assert!((q - exact).abs() < 1e-12 * scale, "k={k} p={p} {q} vs {exact}");
            }
        }
    }

    #[test]
    fn nodes_are_symmetric() {
        let r = GhRule::new(7);
        for i in 0..7 {
            assert_eq!(r.nodes[i], -r.nodes[6 - i]);
            assert_eq!(r.weights[i], r.weights[6 - i]);
        }
        assert_eq!(r.nodes[3], 0.0);
    }

    #[test]
    fn product_rule_integrates_a_bivariate_moment() {
        let r = ProductRule::new(5, 2);
        assert_eq!(r.len(), 25);
        // E[z1² z2²] = 1, E[z1⁴] = 3
        let (mut m22, mut m40) = (0.0, 0.0);
        for i in 0..r.len() {
            let z = r.node(i);
            let w = r.log_w[i].exp();
            m22 += w * z[0] * z[0] * z[1] * z[1];
            m40 += w * z[0].powi(4);
        }
        assert!((m22 - 1.0).abs() < 1e-12 && (m40 - 3.0).abs() < 1e-12);
    }
}
