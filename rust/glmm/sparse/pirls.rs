//! The conditional mode of a GLMM with several random-effects terms by penalised IRLS on the
//! blocked factorisation (Bates et al. 2015, §3.3 for the algorithm; lme4's `pwrssUpdate`):
//! Newton steps on h(u) = −Σ ℓᵢ(ηᵢ) + ½‖u‖² (jointly in (u, β) for nAGQ = 0), halved until h
//! decreases, stopped by the Newton decrement.

use crate::error::{Error, Result};
use crate::glmm::sparse::model::SparseGlmm;
use crate::terms::blocked_factor::solve;
use crate::terms::re_products::{lambda_t_times, xt_times, zt_times};

const MAX_PIRLS: usize = 60;
const MAX_HALVINGS: usize = 40;
/// Below this decrement steps are taken whole (a decrease of h is then below rounding).
const FULL_STEP: f64 = 1e-9;
/// A Newton step taken from a decrement this small (relative to 1 + |h|) lands at the rounding
/// level of the mode (Newton's error squares), so the point it reaches is accepted without a
/// further step to confirm it. Only for canonical links, where the Fisher weights of the
/// iteration are the observed ones: otherwise it is Fisher scoring, whose error falls linearly.
const LAST_STEP: f64 = 1e-16;

impl SparseGlmm {
    /// Penalised IRLS: move u (and β when `joint`) to the mode of h at θ (already set).
    /// Returns h at the mode; the family terms are left at the mode.
    pub(super) fn pirls(&mut self, beta: &mut Vec<f64>, joint: bool) -> Result<(f64, bool)> {
        let q = self.q();
        let mut u = self.u.clone();
        let mut h = self.eval_h(&u, beta);
        if !h.is_finite() {
            u.fill(0.0);
            h = self.eval_h(&u, beta);
        }
        if !h.is_finite() {
            return Err(Error::PirlsStepHalving { cluster: usize::MAX });
        }
        let mut previous = f64::INFINITY;
        let mut current = false;
        let canonical = self.canonical();
        for _ in 0..MAX_PIRLS {
            self.factor_at(joint, false)?;
            let sys = if joint { &self.joint } else { &self.u_sys };
            let new = solve(&sys.s, &sys.l);
            let (du, db): (Vec<f64>, Vec<f64>) = (
                new[..q].iter().zip(&u).map(|(a, b)| a - b).collect(),
                if joint { new[q..].iter().zip(beta.iter()).map(|(a, b)| a - b).collect() } else { vec![] },
            );
            let decrement = self.decrement(&u, &du, &db, joint);
            // Newton converges quadratically: once the decrement stops falling fast it is at
            // the rounding level of the gradient and the mode is as accurate as it can be
            let stalled = decrement < FULL_STEP && decrement > 0.25 * previous;
            let squared = canonical && previous <= LAST_STEP * (1.0 + h.abs());
            if decrement <= self.mode_tol * (1.0 + h.abs()) || !decrement.is_finite() || stalled || squared {
                // the factor (and the family terms) are at u: no step was taken since
                current = true;
                break;
            }
            previous = decrement;
            let mut alpha = 1.0;
            let mut accepted = false;
            for _ in 0..MAX_HALVINGS {
                let ut: Vec<f64> = u.iter().zip(&du).map(|(a, d)| a + alpha * d).collect();
                let bt: Vec<f64> = if joint { beta.iter().zip(&db).map(|(a, d)| a + alpha * d).collect() } else { beta.clone() };
                let ht = self.eval_h(&ut, &bt);
                if ht.is_finite() && (ht <= h || decrement < FULL_STEP) {
                    (u, h) = (ut, ht);
                    *beta = bt;
                    accepted = true;
                    break;
                }
                alpha *= 0.5;
            }
            if !accepted {
                self.eval_h(&u, beta);
                return Err(Error::PirlsStepHalving { cluster: usize::MAX });
            }
        }
        self.u = u;
        Ok((h, current))
    }

    /// The Newton decrement gᵀ(new − old) of h: g = ∇h.
    fn decrement(&self, u: &[f64], du: &[f64], db: &[f64], joint: bool) -> f64 {
        let s = &self.u_sys.s;
        let score: Vec<f64> = self.obs.iter().map(|t| t.score).collect();
        let zts = zt_times(&self.terms, &s.terms, self.q(), &score);
        let xts = if joint { xt_times(&self.x, self.p, &score) } else { vec![] };
        // ∇ᵤh = u − ΛᵀZᵀs, ∇ᵦh = −Xᵀs; the decrement is −∇h·step
        let lt_zts = lambda_t_times(&s.terms, &self.lambda, &zts);
        let du_part: f64 = du.iter().zip(u.iter().zip(&lt_zts)).map(|(d, (u, g))| d * (g - u)).sum();
        let db_part: f64 = db.iter().zip(&xts).map(|(d, g)| d * g).sum();
        du_part + db_part
    }
}
