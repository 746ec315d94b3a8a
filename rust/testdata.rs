//! Small simulated data sets for the inline tests (a fixed linear congruential generator, so
//! the tests need no random-number crate).

#![cfg(test)]

use crate::family::{Family, Link};
use crate::terms::cluster::Clustered;

/// Deterministic uniform(0,1) stream.
pub struct Lcg(u64);

impl Lcg {
    pub fn new(seed: u64) -> Self {
        Lcg(seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407))
    }
    pub fn uniform(&mut self) -> f64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    pub fn normal(&mut self) -> f64 {
        let (u1, u2) = (self.uniform(), self.uniform());
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

/// Clusters of 4–7 rows, intercept + one covariate in X, intercept (+ covariate) in Z,
/// a response drawn from the family around a moderate linear predictor.
pub fn simulate(family: Family, link: Link, n_clusters: usize, d: usize, seed: u64) -> Clustered {
    let mut rng = Lcg::new(seed);
    let (mut y, mut m, mut x1, mut group) = (vec![], vec![], vec![], vec![]);
    for g in 0..n_clusters {
        let b0 = 0.8 * rng.normal();
        let b1 = 0.4 * rng.normal();
        let size = 4 + (rng.uniform() * 4.0) as usize;
        for _ in 0..size {
            let x = rng.uniform() * 2.0 - 1.0;
            let eta = -0.3 + 0.7 * x + b0 + if d > 1 { b1 * x } else { 0.0 };
            let mu = link.eval(eta).mu;
            let (yy, mm) = match family {
                Family::Binomial => {
                    let trials = 1 + (g % 3) * 2;
                    let k = (0..trials).filter(|_| rng.uniform() < mu).count();
                    (k as f64 / trials as f64, trials as f64)
                }
                Family::Poisson => {
                    let (mut k, mut p, l) = (0.0, rng.uniform(), (-mu).exp());
                    while p > l {
                        k += 1.0;
                        p *= rng.uniform();
                    }
                    (k, 1.0)
                }
            };
            y.push(yy);
            m.push(mm);
            x1.push(x);
            group.push(g as u32);
        }
    }
    let n = y.len();
    let mut xcol = vec![1.0; n];
    xcol.extend_from_slice(&x1);
    let zcol = if d > 1 { xcol.clone() } else { vec![1.0; n] };
    let freq: Vec<f64> = (0..n_clusters).map(|g| 1.0 + (g % 2) as f64).collect();
    Clustered::new(&y, &m, &vec![0.1; n], &xcol, 2, &zcol, d, &group, n_clusters, &freq).unwrap()
}
