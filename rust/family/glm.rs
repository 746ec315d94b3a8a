//! The fixed-effects GLM fitted by iteratively reweighted least squares: lme4's starting
//! values for β (its `glm.fit` step), and the model the random effects are compared with.

use crate::error::{Error, Result};
use crate::family::{Family, Link};
use crate::terms::cluster::Clustered;
use crate::terms::re_products::add_x_times;
use faer::{Mat, Side};
use faer::prelude::Solve;

const MAX_ITER: usize = 50;
/// Relative change of the deviance at which the starting values are good enough.
const TOL: f64 = 1e-8;

/// β̂ of the GLM without random effects (cluster frequencies as case weights).
pub fn glm_start(data: &Clustered, family: Family, link: Link) -> Result<Vec<f64>> {
    let rows = GlmRows { y: &data.y, m: &data.m, offset: &data.offset, x: &data.x, p: data.p, case_weights: &data.row_freq() };
    glm_fit(&rows, family, link)
}

/// The rows of a GLM: response, prior weights, offset, row-major X (n × p), case weights.
pub struct GlmRows<'a> {
    pub y: &'a [f64],
    pub m: &'a [f64],
    pub offset: &'a [f64],
    pub x: &'a [f64],
    pub p: usize,
    pub case_weights: &'a [f64],
}

/// β̂ by IRLS from R's `mustart`, until the deviance changes by less than `TOL` relative (R's
/// `glm.fit` rule). The deviance is C − 2ℓ with C = Σ(dᵢ + 2ℓᵢ), which does not depend on μ
/// (dᵢ the unit deviance), so one pass per iteration gives the weights and the deviance.
pub fn glm_fit(rows: &GlmRows, family: Family, link: Link) -> Result<Vec<f64>> {
    let (n, p) = (rows.y.len(), rows.p);
    let mut eta: Vec<f64> = (0..n).map(|k| link.link(start_mu(family, rows.y[k], rows.m[k])) - rows.offset[k]).collect();
    let mut beta = vec![0.0; p];
    let (mut saturated, mut dev_old) = (0.0, f64::INFINITY);
    // √w X and √w z, so that XᵀWX and XᵀWz are matrix products
    let mut wx = Mat::<f64>::zeros(n, p);
    let mut wz = Mat::<f64>::zeros(n, 1);
    for iteration in 0..MAX_ITER {
        let mut loglik = 0.0;
        for k in 0..n {
            let t = family.terms(link, rows.y[k], rows.m[k], eta[k] + rows.offset[k]);
            loglik += rows.case_weights[k] * t.loglik;
            if iteration == 0 {
                saturated += rows.case_weights[k] * (family.dev_resid(rows.y[k], rows.m[k], t.mu) + 2.0 * t.loglik);
            }
            let usable = t.w_fisher > 0.0 && t.w_fisher.is_finite();
            let sw = if usable { (rows.case_weights[k] * t.w_fisher).sqrt() } else { 0.0 };
            let z = if usable { eta[k] + t.score / t.w_fisher } else { 0.0 };
            (0..p).for_each(|c| wx[(k, c)] = sw * rows.x[k * p + c]);
            wz[(k, 0)] = sw * z;
        }
        let dev = saturated - 2.0 * loglik;
        if !dev.is_finite() {
            return Err(Error::NonFiniteStart { what: "the starting GLM diverged".into() });
        }
        if (dev_old - dev).abs() <= TOL * (dev.abs() + 0.1) {
            break;
        }
        dev_old = dev;
        let xtwx = wx.transpose() * &wx;
        let xtwz = wx.transpose() * &wz;
        let llt = xtwx.llt(Side::Lower).map_err(|_| Error::NotPositiveDefinite { what: "X'WX of the starting GLM (are the fixed effects aliased?)", block: None })?;
        let sol = llt.solve(&xtwz);
        beta = (0..p).map(|i| sol[(i, 0)]).collect();
        eta.fill(0.0);
        add_x_times(rows.x, p, &beta, &mut eta);
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
