//! The Laplace deviance of a GLMM with several random-effects terms and lme4's nAGQ = 0
//! criterion, with their exact gradients.
//!
//! With η = Xβ + o + ZΛu and h(u) = −Σ ℓᵢ(ηᵢ) + ½‖u‖², the Laplace deviance is
//!   d(θ, β) = 2h(û) + log det M_F(û) − 2Σ cᵢ,     M_F = ΛᵀZᵀW_F ZΛ + I,
//! W_F the Fisher weights (lme4's definition; cᵢ the likelihood constants). Its gradient
//! (û moves with θ, β through ∇ᵤh = 0, M_O û' = r):
//!   ∂d/∂β = Xᵀe,   ∂d/∂θₖ = eᵀZEₖû + tr(M_F⁻¹ ∂M_F/∂θₖ|_W) + ζᵀEₖᵀZᵀs,
//!   e = −2s + a − W_O ZΛζ,   aᵢ = (∂w_F,ᵢ/∂η) · z̃ᵢᵀM_F⁻¹z̃ᵢ,   ζ = M_O⁻¹ ΛᵀZᵀa,
//! with s the scores and M_O the observed-weight version of M_F (the Hessian of h). For
//! lme4's nAGQ = 0 the inner variables are (u, β) jointly and M_O becomes the joint system.

use crate::error::{Error, Result};
use crate::glmm::sparse::laplace_gradient::gradient;
use crate::glmm::sparse::model::{Evaluation, SparseGlmm};
use crate::terms::blocked_factor::logdets;

impl SparseGlmm {
    /// Laplace deviance at (θ, β) and, when `want_grad`, its gradient in (θ, β).
    pub fn laplace(&mut self, theta: &[f64], beta: &[f64], want_grad: bool) -> Result<Evaluation> {
        self.set_theta(theta)?;
        let mut b = beta.to_vec();
        let (h, current) = self.pirls(&mut b, false)?;
        self.finish(h, false, current, want_grad)
    }

    /// The Laplace deviance and its gradient at (θ, β) with the mode taken to be `self.u` as it
    /// stands, without penalised IRLS: for a point whose mode is known to the accuracy needed
    /// (a first-order prediction, `mode_derivatives`, at a finite-difference step h is off by
    /// O(h²), which moves the gradient by O(h²) — the order of the differences' own error
    /// once divided by h).
    pub fn laplace_at_mode(&mut self, theta: &[f64], beta: &[f64]) -> Result<Evaluation> {
        self.set_theta(theta)?;
        let u = self.u.clone();
        let h = self.eval_h(&u, beta);
        if !h.is_finite() {
            return Err(Error::PirlsStepHalving { cluster: usize::MAX });
        }
        self.factor_at(false, false)?;
        self.finish(h, false, true, true)
    }

    /// lme4's nAGQ = 0 criterion at θ: β moved with u to the joint mode (from `beta`), and
    /// its gradient in θ.
    pub fn nagq0(&mut self, theta: &[f64], beta: &mut Vec<f64>, want_grad: bool) -> Result<Evaluation> {
        self.set_theta(theta)?;
        let (h, current) = self.pirls(beta, true)?;
        self.finish(h, true, current, want_grad)
    }

    /// Factor at the mode, the deviance and the gradient.
    fn finish(&mut self, h: f64, joint: bool, current: bool, want_grad: bool) -> Result<Evaluation> {
        if !current {
            self.factor_at(joint, false)?;
        }
        let sys = if joint { &self.joint } else { &self.u_sys };
        let (logdet, _) = logdets(&sys.s, &sys.l);
        let deviance = 2.0 * h + logdet - 2.0 * self.loglik_constant;
        if !want_grad {
            return Ok(Evaluation { deviance, gradient: vec![] });
        }
        let gradient = gradient(self, joint)?;
        Ok(Evaluation { deviance, gradient })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::family::{Family, Link};
    use crate::terms::blocked::ReTermData;
    use crate::terms::cluster::Clustered;
    use crate::glmm::model::GlmmModel;
    use crate::terms::remat::ReTemplate;
    use crate::testdata::{Lcg, simulate};

    /// The single-factor simulated data with every cluster frequency 1, as column-major
    /// arrays, and the same data as a `Clustered`.
    fn one_factor(family: Family, link: Link, d: usize, seed: u64) -> (Clustered, Vec<f64>, Vec<ReTermData>) {
        let c = simulate(family, link, 14, d, seed);
        let n = c.n;
        let groups: Vec<u32> = (0..c.n_clusters()).flat_map(|g| std::iter::repeat(g as u32).take(c.start[g + 1] - c.start[g])).collect();
        let xcol: Vec<f64> = (0..c.p).flat_map(|j| (0..n).map(move |i| (i, j))).map(|(i, j)| c.x[i * c.p + j]).collect();
        let zcol: Vec<f64> = (0..c.d).flat_map(|j| (0..n).map(move |i| (i, j))).map(|(i, j)| c.z[i * c.d + j]).collect();
        let ones = vec![1.0; c.n_clusters()];
        let data = Clustered::new(&c.y, &c.m, &c.offset, &xcol, c.p, &zcol, c.d, &groups, c.n_clusters(), &ones).unwrap();
        let term = ReTermData { codes: groups, n_levels: c.n_clusters(), d: c.d, z: c.z.to_vec() };
        (data, xcol, vec![term])
    }

    #[test]
    fn one_factor_laplace_matches_the_per_cluster_code() {
        for (family, link, d) in [(Family::Binomial, Link::Logit, 1), (Family::Binomial, Link::Probit, 2), (Family::Poisson, Link::Log, 2)] {
            let (data, xcol, terms) = one_factor(family, link, d, 21);
            let (theta, beta) = (if d == 1 { vec![0.9] } else { vec![0.8, 0.2, 0.4] }, vec![-0.2, 0.5]);
            let mut sparse = SparseGlmm::new(&data.y, &data.m, &data.offset, &xcol, 2, terms, family, link).unwrap();
            let ours = sparse.laplace(&theta, &beta, true).unwrap();
            let mut per_cluster = GlmmModel::new(data, family, link, ReTemplate::full(d)).unwrap();
            let theirs = per_cluster.deviance(&theta, &beta, 1, true).unwrap();
            assert!((ours.deviance - theirs.deviance).abs() < 1e-9 * theirs.deviance.abs(), "{family:?}/{link:?}: {} vs {}", ours.deviance, theirs.deviance);
            for (k, (a, b)) in ours.gradient.iter().zip(&theirs.gradient).enumerate() {
                assert!((a - b).abs() < 1e-7 * (1.0 + b.abs()), "{family:?}/{link:?} component {k}: {a} vs {b}");
            }
        }
    }

    /// Crossed (1 + x | g) + (1 | h) design.
    fn crossed(family: Family, link: Link, seed: u64) -> SparseGlmm {
        let mut rng = Lcg::new(seed);
        let (ng, nh, n) = (9, 6, 120);
        let (mut y, mut m, mut x1, mut g, mut h) = (vec![], vec![], vec![], vec![], vec![]);
        let bg: Vec<f64> = (0..ng).map(|_| 0.7 * rng.normal()).collect();
        let bh: Vec<f64> = (0..nh).map(|_| 0.5 * rng.normal()).collect();
        for i in 0..n {
            let (gi, hi) = (i % ng, (rng.uniform() * nh as f64) as usize);
            let x = rng.uniform() * 2.0 - 1.0;
            let mu = link.eval(-0.2 + 0.6 * x + bg[gi] + bh[hi]).mu;
            let (yy, mm) = match family {
                Family::Binomial => ((rng.uniform() < mu) as u8 as f64, 1.0),
                Family::Poisson => ((mu + rng.normal() * mu.sqrt()).round().max(0.0), 1.0),
            };
            y.push(yy);
            m.push(mm);
            x1.push(x);
            g.push(gi as u32);
            h.push(hi as u32);
        }
        let xcol: Vec<f64> = std::iter::repeat(1.0).take(n).chain(x1.iter().copied()).collect();
        let terms = vec![
            ReTermData { codes: g, n_levels: ng, d: 2, z: x1.iter().flat_map(|&x| [1.0, x]).collect() },
            ReTermData { codes: h, n_levels: nh, d: 1, z: vec![1.0; n] },
        ];
        SparseGlmm::new(&y, &m, &vec![0.0; n], &xcol, 2, terms, family, link).unwrap()
    }

    #[test]
    fn crossed_gradients_match_finite_differences() {
        for (family, link) in [(Family::Binomial, Link::Logit), (Family::Binomial, Link::Cloglog), (Family::Poisson, Link::Log)] {
            let mut model = crossed(family, link, 8);
            let x0 = vec![0.8, 0.3, 0.5, 0.7, -0.1, 0.4];
            let analytic = model.laplace(&x0[..4], &x0[4..], true).unwrap().gradient;
            for k in 0..x0.len() {
                let (mut xp, mut xm) = (x0.clone(), x0.clone());
                let h = 1e-5;
                xp[k] += h;
                xm[k] -= h;
                let fp = model.laplace(&xp[..4], &xp[4..], false).unwrap().deviance;
                let fm = model.laplace(&xm[..4], &xm[4..], false).unwrap().deviance;
                let num = (fp - fm) / (2.0 * h);
                assert!((num - analytic[k]).abs() < 1e-5 * (1.0 + num.abs()), "{family:?}/{link:?} Laplace component {k}: {} vs {num}", analytic[k]);
            }
            let theta = x0[..4].to_vec();
            let mut beta = vec![0.0, 0.0];
            let analytic = model.nagq0(&theta, &mut beta, true).unwrap().gradient;
            for k in 0..theta.len() {
                let (mut tp, mut tm) = (theta.clone(), theta.clone());
                let h = 1e-5;
                tp[k] += h;
                tm[k] -= h;
                let fp = model.nagq0(&tp, &mut beta.clone(), false).unwrap().deviance;
                let fm = model.nagq0(&tm, &mut beta.clone(), false).unwrap().deviance;
                let num = (fp - fm) / (2.0 * h);
                assert!((num - analytic[k]).abs() < 1e-5 * (1.0 + num.abs()), "{family:?}/{link:?} nAGQ=0 component {k}: {} vs {num}", analytic[k]);
            }
        }
    }
}
