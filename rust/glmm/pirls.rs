//! The conditional mode of one cluster's spherical random effects u (Bates et al. 2015, §3.2,
//! "PIRLS", done cluster by cluster because with one grouping factor the penalised problem
//! separates).
//!
//! With η = Xβ + o + ZΛu the mode minimises h(u) = −ℓ(η(u)) + ½‖u‖². Newton steps use the
//! observed curvature H = I + Σⱼ w_obs,ⱼ aⱼaⱼᵀ (aⱼ = Λᵀzⱼ), or the Fisher curvature when the
//! observed one is not positive definite; a step is halved until h decreases. Near the mode
//! (decrement below 1e-8) full steps are taken without the test, because there a decrease
//! of h is below rounding while the gradient still shrinks quadratically.

use crate::error::{Error, Result};
use crate::family::{Family, Link, ObsTerms};
use crate::numerics::linalg::{SmallChol, syr_lower};
use crate::terms::cluster::Cluster;

/// Decrement gᵀH⁻¹g below which the mode is accepted.
const MODE_TOL: f64 = 1e-20;
/// Decrement below which Newton steps are taken without a descent test.
const FULL_STEP_DECREMENT: f64 = 1e-8;
const MAX_ITER: usize = 60;
const MAX_HALVINGS: usize = 40;

/// Per-thread scratch space for one cluster at a time.
pub struct Workspace {
    pub d: usize,
    /// rows aⱼ = Λᵀzⱼ, row-major
    pub a: Vec<f64>,
    /// Xβ + offset
    pub lin: Vec<f64>,
    /// family terms at the current mode
    pub terms: Vec<ObsTerms>,
    terms_try: Vec<ObsTerms>,
    pub grad: Vec<f64>,
    pub step: Vec<f64>,
    pub u_try: Vec<f64>,
    /// Fisher curvature of h at the mode (lower triangle, column-major)
    pub h_fisher: Vec<f64>,
    /// observed curvature of h at the mode
    pub h_obs: Vec<f64>,
    pub chol_fisher: SmallChol,
    pub chol_obs: SmallChol,
}

impl Workspace {
    /// Scratch for clusters of up to `n_max` rows and `d` random effects.
    pub fn new(n_max: usize, d: usize) -> Self {
        Workspace {
            d,
            a: vec![0.0; n_max * d],
            lin: vec![0.0; n_max],
            terms: vec![ObsTerms::default(); n_max],
            terms_try: vec![ObsTerms::default(); n_max],
            grad: vec![0.0; d],
            step: vec![0.0; d],
            u_try: vec![0.0; d],
            h_fisher: vec![0.0; d * d],
            h_obs: vec![0.0; d * d],
            chol_fisher: SmallChol::new(d),
            chol_obs: SmallChol::new(d),
        }
    }

    /// Fill `lin` = Xβ + o and `a` = rows of ZΛ for one cluster.
    pub fn prepare(&mut self, c: &Cluster, beta: &[f64], lambda: &[f64]) {
        let (p, d) = (beta.len(), self.d);
        for j in 0..c.len() {
            let xj = &c.x[j * p..(j + 1) * p];
            self.lin[j] = c.offset[j] + xj.iter().zip(beta).map(|(x, b)| x * b).sum::<f64>();
            let zj = &c.z[j * d..(j + 1) * d];
            for col in 0..d {
                self.a[j * d + col] = (col..d).map(|r| lambda[r + col * d] * zj[r]).sum();
            }
        }
    }

    /// ηⱼ = linⱼ + aⱼ·u.
    #[inline]
    pub fn eta(&self, j: usize, u: &[f64]) -> f64 {
        let d = self.d;
        self.lin[j] + self.a[j * d..(j + 1) * d].iter().zip(u).map(|(a, u)| a * u).sum::<f64>()
    }
}

/// h(u) = −Σⱼ ℓⱼ + ½‖u‖², with the family terms stored in `out`.
fn eval_h(c: &Cluster, fam: Family, link: Link, ws: &Workspace, u: &[f64], out: &mut [ObsTerms]) -> f64 {
    0.5 * u.iter().map(|v| v * v).sum::<f64>() - fam.terms_block(link, c.y, c.m, |j| ws.eta(j, u), out)
}

/// Gradient of h and its Fisher and observed curvatures at the stored terms.
fn curvature(ws: &mut Workspace, n: usize, u: &[f64]) {
    let d = ws.d;
    ws.grad.copy_from_slice(u);
    ws.h_fisher.fill(0.0);
    ws.h_obs.fill(0.0);
    for i in 0..d {
        ws.h_fisher[i + i * d] = 1.0;
        ws.h_obs[i + i * d] = 1.0;
    }
    for j in 0..n {
        let t = ws.terms[j];
        let aj = &ws.a[j * d..(j + 1) * d];
        for (g, a) in ws.grad.iter_mut().zip(aj) {
            *g -= t.score * a;
        }
        syr_lower(&mut ws.h_fisher, d, t.w_fisher, aj);
        syr_lower(&mut ws.h_obs, d, t.w_obs, aj);
    }
}

/// Move `u` to the conditional mode of cluster `c` (index `id`, for messages) and leave the
/// family terms, curvatures and their Cholesky factors at the mode in `ws`. Returns h(û).
/// `ws.prepare` must have been called for this cluster.
pub fn conditional_mode(c: &Cluster, id: usize, fam: Family, link: Link, ws: &mut Workspace, u: &mut [f64]) -> Result<f64> {
    let n = c.len();
    let mut terms = std::mem::take(&mut ws.terms);
    let mut h = eval_h(c, fam, link, ws, u, &mut terms);
    if !h.is_finite() {
        u.fill(0.0);
        h = eval_h(c, fam, link, ws, u, &mut terms);
    }
    ws.terms = terms;
    if !h.is_finite() {
        return Err(Error::PirlsStepHalving { cluster: id });
    }
    for _ in 0..MAX_ITER {
        curvature(ws, n, u);
        if !ws.chol_fisher.factor(&ws.h_fisher) {
            return Err(Error::NotPositiveDefinite { what: "the Fisher curvature of the conditional density", block: Some(id) });
        }
        let obs_ok = ws.chol_obs.factor(&ws.h_obs);
        ws.step.copy_from_slice(&ws.grad);
        if obs_ok { ws.chol_obs.solve(&mut ws.step) } else { ws.chol_fisher.solve(&mut ws.step) }
        let decrement: f64 = ws.grad.iter().zip(&ws.step).map(|(g, s)| g * s).sum();
        if decrement <= MODE_TOL {
            if !obs_ok {
                return Err(Error::NotPositiveDefinite { what: "the curvature of the conditional density at its mode", block: Some(id) });
            }
            return Ok(h);
        }
        h = line_search(c, id, fam, link, ws, u, h, decrement)?;
    }
    // the iteration limit is only reached when rounding stalls the last digits; the mode is
    // then as accurate as the arithmetic allows
    curvature(ws, n, u);
    if ws.chol_fisher.factor(&ws.h_fisher) && ws.chol_obs.factor(&ws.h_obs) {
        Ok(h)
    } else {
        Err(Error::PirlsStepHalving { cluster: id })
    }
}

/// Halve the Newton step until h decreases; accept it and its terms.
#[allow(clippy::too_many_arguments)]
fn line_search(c: &Cluster, id: usize, fam: Family, link: Link, ws: &mut Workspace, u: &mut [f64], h: f64, decrement: f64) -> Result<f64> {
    let mut alpha = 1.0;
    let mut trial = std::mem::take(&mut ws.terms_try);
    for _ in 0..MAX_HALVINGS {
        for ((ut, &ui), &s) in ws.u_try.iter_mut().zip(u.iter()).zip(&ws.step) {
            *ut = ui - alpha * s;
        }
        let h_try = eval_h(c, fam, link, ws, &ws.u_try, &mut trial);
        if h_try.is_finite() && (h_try <= h || decrement < FULL_STEP_DECREMENT) {
            u.copy_from_slice(&ws.u_try);
            std::mem::swap(&mut ws.terms, &mut trial);
            ws.terms_try = trial;
            return Ok(h_try);
        }
        alpha *= 0.5;
    }
    ws.terms_try = trial;
    Err(Error::PirlsStepHalving { cluster: id })
}
