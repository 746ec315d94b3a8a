//! The fixed-effects GLM fitted by iteratively reweighted least squares: lme4's starting
//! values for β (its `glm.fit` step), and the model the random effects are compared with.

use crate::cluster::Clustered;
use crate::error::{Error, Result};
use crate::family::{Family, Link};
use faer::{Mat, Side};
use faer::prelude::Solve;

const MAX_ITER: usize = 50;
/// Relative change of the deviance at which the starting values are good enough.
const TOL: f64 = 1e-8;

/// β̂ of the GLM without random effects (cluster frequencies as case weights).
pub fn glm_start(data: &Clustered, family: Family, link: Link) -> Result<Vec<f64>> {
    let (n, p) = (data.n, data.p);
    let freq = data.row_freq();
    let mut eta: Vec<f64> = (0..n).map(|k| link.link(start_mu(family, data.y[k], data.m[k])) - data.offset[k]).collect();
    let mut beta = vec![0.0; p];
    let mut dev_old = f64::INFINITY;
    for _ in 0..MAX_ITER {
        let mut xtwx = Mat::<f64>::zeros(p, p);
        let mut xtwz = Mat::<f64>::zeros(p, 1);
        for k in 0..n {
            let t = family.terms(link, data.y[k], data.m[k], eta[k] + data.offset[k]);
            if t.w_fisher <= 0.0 || !t.w_fisher.is_finite() {
                continue;
            }
            let w = freq[k] * t.w_fisher;
            let z = eta[k] + t.score / t.w_fisher;
            let xk = &data.x[k * p..(k + 1) * p];
            for c in 0..p {
                xtwz[(c, 0)] += w * xk[c] * z;
                for r in c..p {
                    xtwx[(r, c)] += w * xk[r] * xk[c];
                }
            }
        }
        let llt = xtwx.llt(Side::Lower).map_err(|_| Error::NotPositiveDefinite { what: "X'WX of the starting GLM (are the fixed effects aliased?)", block: None })?;
        let sol = llt.solve(&xtwz);
        beta = (0..p).map(|i| sol[(i, 0)]).collect();
        let mut dev = 0.0;
        for k in 0..n {
            eta[k] = data.x[k * p..(k + 1) * p].iter().zip(&beta).map(|(x, b)| x * b).sum();
            let mu = family.mu(link, eta[k] + data.offset[k]);
            dev += freq[k] * family.dev_resid(data.y[k], data.m[k], mu);
        }
        if !dev.is_finite() {
            return Err(Error::NonFiniteStart { what: "the starting GLM diverged".into() });
        }
        if (dev_old - dev).abs() <= TOL * (dev.abs() + 0.1) {
            break;
        }
        dev_old = dev;
    }
    Ok(beta)
}

/// R's `mustart`: (m·y + ½)/(m + 1) for the binomial, y + 0.1 for the Poisson.
fn start_mu(family: Family, y: f64, m: f64) -> f64 {
    match family {
        Family::Binomial => (m * y + 0.5) / (m + 1.0),
        Family::Poisson => y + 0.1,
    }
}
