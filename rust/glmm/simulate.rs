//! Responses drawn from a GLMM at given (θ, β): new random effects b = Λu, u ~ N(0, I), per
//! cluster, then y ~ family(μ) per row (lme4's `simulate`). Binomial responses are
//! proportions of m trials, so a refit reads them exactly as the original response.

use crate::error::{Error, Result};
use crate::family::Family;
use crate::glmm::model::GlmmModel;
use rand::{Rng, RngExt};
use rand_distr::{Binomial, Poisson, StandardNormal};

/// Check that the model's data can be simulated from: whole numbers of trials, and no
/// cluster frequencies (a cluster standing for several must be expanded first).
pub fn check_simulable(model: &GlmmModel) -> Result<()> {
    if model.data.freq.iter().any(|&f| f != 1.0) {
        return Err(Error::bad_input("simulation needs one row-group per cluster: expand aggregated data (group_weights) with glmmx.uncount first"));
    }
    if model.family == Family::Binomial && model.data.m.iter().any(|&m| m != m.round() || m < 0.0) {
        return Err(Error::bad_input("simulating a binomial response needs whole numbers of trials (weights)"));
    }
    Ok(())
}

/// One simulated response in the model's internal (cluster) row order.
pub fn simulate_internal(model: &GlmmModel, lambda: &[f64], beta: &[f64], rng: &mut impl Rng, y: &mut [f64]) {
    let (d, p) = (model.data.d, model.data.p);
    let mut u = vec![0.0; d];
    let mut b = vec![0.0; d];
    for i in 0..model.data.n_clusters() {
        u.iter_mut().for_each(|v| *v = rng.sample(StandardNormal));
        for (r, br) in b.iter_mut().enumerate() {
            *br = (0..=r).map(|k| lambda[r + k * d] * u[k]).sum();
        }
        let c = model.data.cluster(i);
        let first = model.data.start[i];
        for j in 0..c.len() {
            let xb: f64 = c.x[j * p..(j + 1) * p].iter().zip(beta).map(|(x, b)| x * b).sum();
            let zb: f64 = c.z[j * d..(j + 1) * d].iter().zip(&b).map(|(z, b)| z * b).sum();
            let mu = model.family.mu(model.link, c.offset[j] + xb + zb);
            y[first + j] = draw(model.family, mu, c.m[j], rng);
        }
    }
}

/// One response value of the family at mean μ (binomial: a proportion of m trials).
pub fn draw(family: Family, mu: f64, m: f64, rng: &mut impl Rng) -> f64 {
    match family {
        Family::Binomial => {
            if m <= 0.0 {
                return 0.0;
            }
            let p = mu.clamp(0.0, 1.0);
            Binomial::new(m as u64, p).map(|b| rng.sample(b) as f64 / m).unwrap_or(if p >= 1.0 { 1.0 } else { 0.0 })
        }
        Family::Poisson => {
            if mu > 0.0 && mu.is_finite() {
                Poisson::new(mu).map(|d| rng.sample(d)).unwrap_or(0.0)
            } else {
                0.0
            }
        }
    }
}
