//! Exponential families and links: the per-observation log-likelihood, its derivatives with
//! respect to the linear predictor η, and deviance residuals.
//!
//! For the binomial (trials `m`, proportion `y`) and Poisson (prior weight `m`) families with
//! dispersion 1, the log-likelihood kernel of one observation is
//! ℓ(η) = m·[y·log μ + (1−y)·log(1−μ)] or m·[y·log μ − μ], with μ = g⁻¹(η). The glmm
//! machinery needs, at a given η:
//! * the score `g = dℓ/dη`,
//! * the Fisher weight `w = m·(dμ/dη)²/V(μ)` (lme4's IRLS weight, used for the Laplace
//!   log-determinant and the quadrature scale),
//! * the observed weight `w_obs = −d²ℓ/dη²` (the curvature that moves the conditional mode),
//! * `dw = dw/dη`, the derivative of the Fisher weight.
//!
//! Everything is written with the ratios r₀ = μ'/μ, r₁ = μ'/(1−μ) and k = μ''/μ', which stay
//! finite in the tails where μ or 1−μ underflow.

use crate::error::{Error, Result};

/// Response distribution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    Binomial,
    Poisson,
}

/// Link function η = g(μ).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    Logit,
    Probit,
    Cloglog,
    Log,
}

/// Per-observation terms at one value of η (prior weight included).
#[derive(Clone, Copy, Debug, Default)]
pub struct ObsTerms {
    pub mu: f64,
    pub loglik: f64,
    pub score: f64,
    pub w_fisher: f64,
    pub w_obs: f64,
    pub dw_fisher: f64,
}

impl Family {
    /// Parse `"binomial"` / `"poisson"`.
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "binomial" => Ok(Family::Binomial),
            "poisson" => Ok(Family::Poisson),
            other => Err(Error::bad_input(format!(
                "family must be \"binomial\" or \"poisson\", got \"{other}\""
            ))),
        }
    }

    /// The family's name as R prints it.
    pub fn name(self) -> &'static str {
        match self {
            Family::Binomial => "binomial",
            Family::Poisson => "poisson",
        }
    }

    /// Links implemented for this family (the first is the canonical default).
    pub fn links(self) -> &'static [Link] {
        match self {
            Family::Binomial => &[Link::Logit, Link::Probit, Link::Cloglog],
            Family::Poisson => &[Link::Log],
        }
    }

    /// Check that `link` is implemented for this family.
    pub fn check_link(self, link: Link) -> Result<()> {
        if self.links().contains(&link) {
            return Ok(());
        }
        let choices: Vec<&str> = self.links().iter().map(|l| l.name()).collect();
        Err(Error::BadLink {
            family: self.name().into(),
            link: link.name().into(),
            choices: choices.join(", "),
        })
    }

    /// All terms needed at the conditional mode.
    #[inline]
    pub fn terms(self, link: Link, y: f64, m: f64, eta: f64) -> ObsTerms {
        match (self, link) {
            (Family::Binomial, Link::Logit) => logit_terms(y, m, eta),
            (Family::Poisson, Link::Log) => poisson_log_terms(y, m, eta),
            (Family::Binomial, _) => binomial_terms(link, y, m, eta),
            (Family::Poisson, _) => unreachable!("checked by Family::check_link"),
        }
    }

    /// Log-likelihood kernel and score only (what a quadrature node needs).
    #[inline]
    pub fn loglik_score(self, link: Link, y: f64, m: f64, eta: f64) -> (f64, f64) {
        match (self, link) {
            (Family::Binomial, Link::Logit) => {
                let (mu, softplus) = expit_log1pexp(eta);
                (m * (y * eta - softplus), m * (y - mu))
            }
            (Family::Poisson, Link::Log) => {
                let mu = eta.exp();
                (m * (y * eta - mu), m * (y - mu))
            }
            _ => {
                let t = self.terms(link, y, m, eta);
                (t.loglik, t.score)
            }
        }
    }

    /// Σⱼ ℓⱼ over a block of rows at ηⱼ = `eta(j)`, with each row's terms stored in `out`
    /// (the per-row `loglik` is left 0 on the logit fast path, which only forms the sum).
    #[inline]
    pub fn terms_block(self, link: Link, y: &[f64], m: &[f64], eta: impl Fn(usize) -> f64, out: &mut [ObsTerms]) -> f64 {
        if (self, link) == (Family::Binomial, Link::Logit) {
            return logit_block(y, m, eta, |j, mu| {
                let w = m[j] * mu * (1.0 - mu);
                out[j] = ObsTerms { mu, loglik: 0.0, score: m[j] * (y[j] - mu), w_fisher: w, w_obs: w, dw_fisher: w * (1.0 - 2.0 * mu) };
            });
        }
        (0..y.len())
            .map(|j| {
                out[j] = self.terms(link, y[j], m[j], eta(j));
                out[j].loglik
            })
            .sum()
    }

    /// Σⱼ ℓⱼ over a block of rows at ηⱼ = `eta(j)`, with the scores stored in `score`: what
    /// one quadrature node needs.
    #[inline]
    pub fn loglik_score_block(self, link: Link, y: &[f64], m: &[f64], eta: impl Fn(usize) -> f64, score: &mut [f64]) -> f64 {
        if (self, link) == (Family::Binomial, Link::Logit) {
            return logit_block(y, m, eta, |j, mu| score[j] = m[j] * (y[j] - mu));
        }
        (0..y.len())
            .map(|j| {
                let (ll, sc) = self.loglik_score(link, y[j], m[j], eta(j));
                score[j] = sc;
                ll
            })
            .sum()
    }

    /// Mean μ = g⁻¹(η).
    #[inline]
    pub fn mu(self, link: Link, eta: f64) -> f64 {
        link.eval(eta).mu
    }

    /// The part of the log-likelihood that does not depend on μ (binomial coefficient,
    /// −log y!), so that ℓ matches R's `logLik` (lme4's `aic()` definition).
    pub fn loglik_constant(self, y: f64, m: f64) -> f64 {
        match self {
            Family::Binomial => {
                let k = m * y;
                lgamma(m + 1.0) - lgamma(k + 1.0) - lgamma(m - k + 1.0)
            }
            Family::Poisson => -m * lgamma(y + 1.0),
        }
    }

    /// Deviance residual (squared): 2·[ℓ(saturated) − ℓ(μ)].
    pub fn dev_resid(self, y: f64, m: f64, mu: f64) -> f64 {
        match self {
            Family::Binomial => 2.0 * m * (ylogy(y, mu) + ylogy(1.0 - y, 1.0 - mu)),
            Family::Poisson => 2.0 * m * (ylogy(y, mu) - (y - mu)),
        }
    }

    /// Variance function V(μ).
    pub fn variance(self, mu: f64) -> f64 {
        match self {
            Family::Binomial => mu * (1.0 - mu),
            Family::Poisson => mu,
        }
    }

    /// Whether y is a valid response value for this family (given prior weight m).
    pub fn valid_response(self, y: f64, m: f64) -> bool {
        match self {
            Family::Binomial => (0.0..=1.0).contains(&y) && m >= 0.0,
            Family::Poisson => y >= 0.0 && m >= 0.0,
        }
    }
}

impl Link {
    /// Parse a link name.
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "logit" => Ok(Link::Logit),
            "probit" => Ok(Link::Probit),
            "cloglog" => Ok(Link::Cloglog),
            "log" => Ok(Link::Log),
            other => Err(Error::bad_input(format!(
                "link must be one of logit, probit, cloglog, log; got \"{other}\""
            ))),
        }
    }

    /// The link's name as R prints it.
    pub fn name(self) -> &'static str {
        match self {
            Link::Logit => "logit",
            Link::Probit => "probit",
            Link::Cloglog => "cloglog",
            Link::Log => "log",
        }
    }

    /// The link function g(μ).
    pub fn link(self, mu: f64) -> f64 {
        match self {
            Link::Logit => (mu / (1.0 - mu)).ln(),
            Link::Probit => qnorm(mu),
            Link::Cloglog => (-(-mu).ln_1p()).ln(),
            Link::Log => mu.ln(),
        }
    }

    /// μ and the ratios the likelihood derivatives need, at η.
    #[inline]
    pub fn eval(self, eta: f64) -> LinkEval {
        match self {
            Link::Logit => {
                let mu = expit(eta);
                let one_m = expit(-eta);
                LinkEval { mu, log_mu: -log1pexp(-eta), log_1m_mu: -log1pexp(eta), r0: one_m, r1: mu, k: 1.0 - 2.0 * mu }
            }
            Link::Probit => {
                // beyond |η| = 35 both tails are 0/1 to double precision and the Mills ratios
                // are not representable; the clamp is far outside any fitted value.
                let e = eta.clamp(-35.0, 35.0);
                let mu = 0.5 * libm::erfc(-e / std::f64::consts::SQRT_2);
                let one_m = 0.5 * libm::erfc(e / std::f64::consts::SQRT_2);
                let dens = (-0.5 * e * e).exp() / (2.0 * std::f64::consts::PI).sqrt();
                LinkEval { mu, log_mu: mu.ln(), log_1m_mu: one_m.ln(), r0: dens / mu, r1: dens / one_m, k: -e }
            }
            Link::Cloglog => {
                let e = eta.min(700.0);
                let ee = e.exp();
                let one_m = (-ee).exp();
                let mu = -(-ee).exp_m1();
                // μ' = e^η·exp(−e^η); r₀ = μ'/μ, r₁ = μ'/(1−μ) = e^η
                let r0 = if mu > 0.0 { ee * one_m / mu } else { 1.0 };
                LinkEval { mu, log_mu: mu.ln(), log_1m_mu: -ee, r0, r1: ee, k: 1.0 - ee }
            }
            Link::Log => {
                let mu = eta.exp();
                LinkEval { mu, log_mu: eta, log_1m_mu: f64::NAN, r0: 1.0, r1: f64::NAN, k: 1.0 }
            }
        }
    }
}

/// μ = g⁻¹(η) with log μ, log(1−μ) and the ratios r₀ = μ'/μ, r₁ = μ'/(1−μ), k = μ''/μ'.
#[derive(Clone, Copy, Debug)]
pub struct LinkEval {
    pub mu: f64,
    pub log_mu: f64,
    pub log_1m_mu: f64,
    pub r0: f64,
    pub r1: f64,
    pub k: f64,
}

/// Binomial terms for any link, from the ratios:
/// g = m(y·r₀ − (1−y)·r₁), w = m·r₀·r₁, w_obs = m(y·r₀² + (1−y)·r₁²) − g·k,
/// dw/dη = w·(2k − r₀ + r₁).
#[inline]
fn binomial_terms(link: Link, y: f64, m: f64, eta: f64) -> ObsTerms {
    let l = link.eval(eta);
    let score = m * (y * l.r0 - (1.0 - y) * l.r1);
    let w_fisher = m * l.r0 * l.r1;
    ObsTerms {
        mu: l.mu,
        loglik: m * (xlogy(y, l.log_mu) + xlogy(1.0 - y, l.log_1m_mu)),
        score,
        w_fisher,
        w_obs: m * (y * l.r0 * l.r0 + (1.0 - y) * l.r1 * l.r1) - score * l.k,
        dw_fisher: w_fisher * (2.0 * l.k - l.r0 + l.r1),
    }
}

/// μ = expit(η) and log(1 + e^η) from one exponential.
#[inline]
fn expit_log1pexp(eta: f64) -> (f64, f64) {
    let e = (-eta.abs()).exp();
    let mu = if eta >= 0.0 { 1.0 / (1.0 + e) } else { e / (1.0 + e) };
    (mu, eta.max(0.0) + e.ln_1p())
}

/// Canonical logit fast path: g = m(y − μ), w = w_obs = mμ(1−μ), dw = w(1−2μ).
#[inline]
fn logit_terms(y: f64, m: f64, eta: f64) -> ObsTerms {
    let (mu, softplus) = expit_log1pexp(eta);
    let w = m * mu * (1.0 - mu);
    ObsTerms {
        mu,
        loglik: m * (y * eta - softplus),
        score: m * (y - mu),
        w_fisher: w,
        w_obs: w,
        dw_fisher: w * (1.0 - 2.0 * mu),
    }
}

/// Canonical Poisson fast path: g = m(y − μ), w = w_obs = dw = mμ.
#[inline]
fn poisson_log_terms(y: f64, m: f64, eta: f64) -> ObsTerms {
    let mu = eta.exp();
    let w = m * mu;
    ObsTerms { mu, loglik: m * (y * eta - mu), score: m * (y - mu), w_fisher: w, w_obs: w, dw_fisher: w }
}

/// Σⱼ mⱼ·[yⱼηⱼ − log(1 + e^{ηⱼ})], the binomial-logit log-likelihood of a block of rows,
/// calling `each(j, μⱼ)` for the per-row terms.
#[inline]
fn logit_block(y: &[f64], m: &[f64], eta: impl Fn(usize) -> f64, mut each: impl FnMut(usize, f64)) -> f64 {
    let mut softplus = SoftplusSum::default();
    let mut linear = 0.0;
    for j in 0..y.len() {
        let e = eta(j);
        linear += m[j] * y[j] * e;
        each(j, softplus.add(e, m[j]));
    }
    linear - softplus.total()
}

/// Σⱼ mⱼ·log(1 + e^{ηⱼ}) without a logarithm per row: log(1 + e^η) = max(η, 0) + log(1 + e^{−|η|}),
/// and for unit weights the factors 1 + e^{−|η|} ∈ (1, 2] are multiplied, with one
/// logarithm per 512 rows (the product stays below 2⁵¹², far from overflow). The rounding is
/// that of summing the logarithms: about one unit in the last place per row.
#[derive(Default)]
pub struct SoftplusSum {
    linear: f64,
    logs: f64,
    prod: f64,
    count: u32,
}

impl SoftplusSum {
    /// Add mⱼ·log(1 + e^η); returns μ = expit(η).
    #[inline]
    pub fn add(&mut self, eta: f64, m: f64) -> f64 {
        let e = (-eta.abs()).exp();
        let one_plus = 1.0 + e;
        if m == 1.0 {
            if self.count == 0 {
                self.prod = one_plus;
            } else {
                self.prod *= one_plus;
            }
            self.count += 1;
            if self.count == 512 {
                self.logs += self.prod.ln();
                self.count = 0;
            }
            self.linear += eta.max(0.0);
        } else {
            self.logs += m * e.ln_1p();
            self.linear += m * eta.max(0.0);
        }
        if eta >= 0.0 { 1.0 / one_plus } else { e / one_plus }
    }

    /// The sum so far.
    #[inline]
    pub fn total(&self) -> f64 {
        let open = if self.count > 0 { self.prod.ln() } else { 0.0 };
        self.linear + self.logs + open
    }
}

/// x·log(p) with 0·log(0) = 0.
#[inline]
fn xlogy(x: f64, log_p: f64) -> f64 {
    if x == 0.0 { 0.0 } else { x * log_p }
}

/// y·log(y/μ) with 0·log(0/μ) = 0.
#[inline]
fn ylogy(y: f64, mu: f64) -> f64 {
    if y <= 0.0 { 0.0 } else { y * (y / mu).ln() }
}

/// 1/(1 + e^{−x}).
#[inline]
pub fn expit(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// log(1 + e^x) without overflow.
#[inline]
pub fn log1pexp(x: f64) -> f64 {
    if x > 0.0 { x + (-x).exp().ln_1p() } else { x.exp().ln_1p() }
}

/// log Γ(x).
pub fn lgamma(x: f64) -> f64 {
    libm::lgamma(x)
}

/// Standard normal quantile (Acklam's rational approximation refined by one Halley step).
pub fn qnorm(p: f64) -> f64 {
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    const A: [f64; 6] = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.383577518672690e2, -3.066479806614716e1, 2.506628277459239];
    const B: [f64; 5] = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
    const C: [f64; 6] = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
    const D: [f64; 4] = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
    let x = if p < 0.02425 {
        let q = (-2.0 * p.ln()).sqrt();
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5]) / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else if p > 1.0 - 0.02425 {
        let q = (-2.0 * (1.0 - p).ln()).sqrt();
        -(((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5]) / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    };
    let e = 0.5 * libm::erfc(-x / std::f64::consts::SQRT_2) - p;
    let u = e * (2.0 * std::f64::consts::PI).sqrt() * (x * x / 2.0).exp();
    x - u / (1.0 + x * u / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn central(f: impl Fn(f64) -> f64, x: f64) -> f64 {
        let h = 1e-5 * x.abs().max(1.0);
        (f(x + h) - f(x - h)) / (2.0 * h)
    }

    #[test]
    fn derivatives_match_finite_differences() {
        let cases = [
            (Family::Binomial, Link::Logit),
            (Family::Binomial, Link::Probit),
            (Family::Binomial, Link::Cloglog),
            (Family::Poisson, Link::Log),
        ];
        for (fam, link) in cases {
            for &(y, m) in &[(0.0, 1.0), (1.0, 1.0), (0.3, 10.0), (2.0, 1.5)] {
                if !fam.valid_response(y, m) || (fam == Family::Binomial && y > 1.0) {
                    continue;
                }
                for &eta in &[-3.0, -0.7, 0.0, 0.4, 2.5] {
                    let t = fam.terms(link, y, m, eta);
                    let ll = |e: f64| fam.terms(link, y, m, e).loglik;
                    let sc = |e: f64| fam.terms(link, y, m, e).score;
                    let wf = |e: f64| fam.terms(link, y, m, e).w_fisher;
                    assert!((t.score - central(ll, eta)).abs() < 1e-6 * (1.0 + t.score.abs()), "{fam:?} {link:?} score");
                    assert!((t.w_obs + central(sc, eta)).abs() < 1e-6 * (1.0 + t.w_obs.abs()), "{fam:?} {link:?} w_obs");
                    assert!((t.dw_fisher - central(wf, eta)).abs() < 1e-6 * (1.0 + t.dw_fisher.abs()), "{fam:?} {link:?} dw");
                    let (l2, s2) = fam.loglik_score(link, y, m, eta);
                    assert!((l2 - t.loglik).abs() < 1e-12 && (s2 - t.score).abs() < 1e-12);
                }
            }
        }
    }

    #[test]
    fn block_sums_equal_row_sums() {
        let n = 1500;
        let y: Vec<f64> = (0..n).map(|j| (j % 3 == 0) as u8 as f64).collect();
        let m: Vec<f64> = (0..n).map(|j| if j % 7 == 0 { 3.0 } else { 1.0 }).collect();
        let eta = |j: usize| ((j as f64) * 0.37).sin() * 30.0;
        let mut score = vec![0.0; n];
        let mut terms = vec![ObsTerms::default(); n];
        for (fam, link) in [(Family::Binomial, Link::Logit), (Family::Binomial, Link::Probit)] {
            let ym: Vec<f64> = y.iter().map(|v| v / 1.0).collect();
            let rows: f64 = (0..n).map(|j| fam.terms(link, ym[j], m[j], eta(j)).loglik).sum();
            let block = fam.loglik_score_block(link, &ym, &m, eta, &mut score);
            let block2 = fam.terms_block(link, &ym, &m, eta, &mut terms);
            assert!((block - rows).abs() < 1e-10 * rows.abs(), "{block} {rows}");
            assert!((block2 - rows).abs() < 1e-10 * rows.abs());
            for j in 0..n {
                let t = fam.terms(link, ym[j], m[j], eta(j));
                assert!((score[j] - t.score).abs() < 1e-14 && (terms[j].w_fisher - t.w_fisher).abs() < 1e-14);
            }
        }
    }

    #[test]
    fn qnorm_inverts_the_probit_link() {
        for &p in &[1e-10, 0.01, 0.3, 0.5, 0.9, 0.999999] {
            let eta = qnorm(p);
            assert!((Link::Probit.eval(eta).mu - p).abs() < 1e-14 * p.max(1e-3) / 1e-3);
        }
    }
}
