//! A GLMM with any number of random-effects terms (crossed or nested grouping factors): its
//! data, the blocked u- and joint (u, β) systems of `terms::blocked`, and their factorisation
//! at a given θ and mode. The penalised IRLS that finds the mode is in `pirls`, the Laplace
//! and nAGQ = 0 criteria in `evaluate`, their gradient in `laplace_gradient`.

use crate::error::{Error, Result};
use crate::family::{Family, Link, ObsTerms};
use crate::terms::blocked::{ReTermData, Structure};
use crate::terms::blocked_factor::{BlockValues, RowPlan, assemble, factor, solve_columns};
use crate::terms::re_products::{add_x_times, add_z_times, lambda_times};
use crate::terms::selected_inverse::{selected_inverse, trace_sums};
use faer::Mat;

/// Newton decrement (in h, relative to 1 + |h|) below which the mode is accepted: the
/// gradient is then exact to ~1e-9 relative, plenty for the optimiser.
pub const MODE_TOL: f64 = 1e-22;
/// The same for finite differences of the gradient (the Hessian behind the standard errors),
/// which divide the gradient's error by the step: the iteration goes on to rounding level.
pub const MODE_TOL_TIGHT: f64 = 1e-32;
/// A looser tolerance for the nAGQ = 0 stage that only finds a start for the Laplace fit: its
/// gradient need only be good to ~1e-5 relative.
pub const MODE_TOL_START: f64 = 1e-14;
/// One system: its structure, cross-products, factor and selected inverse.
#[derive(Clone)]
pub(crate) struct System {
    pub(crate) s: Structure,
    pub(crate) plan: RowPlan,
    pub(crate) a: BlockValues,
    pub(crate) l: BlockValues,
    pub(crate) z: BlockValues,
}

impl System {
    fn new(terms: &[ReTermData], n: usize, extra: usize) -> Result<Self> {
        let s = Structure::new(terms, n, extra)?;
        let plan = RowPlan::new(&s, terms)?;
        let a = BlockValues::zeros(&s);
        Ok(System { l: a.clone(), z: a.clone(), a, s, plan })
    }
}

/// The GLMM with its data and workspaces.
#[derive(Clone)]
pub struct SparseGlmm {
    pub n: usize,
    pub p: usize,
    pub y: Vec<f64>,
    pub m: Vec<f64>,
    pub offset: Vec<f64>,
    /// fixed-effects rows, row-major n × p
    pub x: Vec<f64>,
    pub terms: Vec<ReTermData>,
    pub family: Family,
    pub link: Link,
    pub loglik_constant: f64,
    /// conditional modes u (global order), kept between evaluations as starting points
    pub u: Vec<f64>,
    pub(crate) u_sys: System,
    pub(crate) joint: System,
    pub(crate) lambda: Vec<Vec<f64>>,
    pub(crate) obs: Vec<ObsTerms>,
    pub(super) eta: Vec<f64>,
    /// Newton decrement (relative to 1 + |h|) at which the penalised IRLS stops
    pub mode_tol: f64,
    /// Xβ + o for `lin_beta`
    lin: Vec<f64>,
    lin_beta: Vec<f64>,
    /// X column-major, and row-major [X, working response] for the joint system
    xc: Mat<f64>,
    joint_extras: Vec<f64>,
    xw: Mat<f64>,
    pub(crate) rows: RowBuffers,
}

/// Vectors of n filled at every evaluation (factorisation weights and working response; the
/// gradient's leverages, a, scores, linear predictor and e), kept in the model between
/// evaluations. Allocated afresh, glibc hands such memory back to the system and faults it in
/// again: on two cores the parallel finite-difference columns of VerbAgg ran 1.7 times slower
/// each than alone.
#[derive(Clone, Default)]
pub(crate) struct RowBuffers {
    pub w: Vec<f64>,
    pub work: Vec<f64>,
    pub lev: Vec<f64>,
    pub a: Vec<f64>,
    pub score: Vec<f64>,
    pub lin: Vec<f64>,
    pub e: Vec<f64>,
}

/// Deviance and gradient (θ, then β for the Laplace deviance).
#[derive(Clone, Debug)]
pub struct Evaluation {
    pub deviance: f64,
    pub gradient: Vec<f64>,
}

impl SparseGlmm {
    /// Set up the model (`x` column-major n × p, terms in lme4's order).
    #[allow(clippy::too_many_arguments)]
    pub fn new(y: &[f64], m: &[f64], offset: &[f64], x_colmajor: &[f64], p: usize, terms: Vec<ReTermData>, family: Family, link: Link) -> Result<Self> {
        family.check_link(link)?;
        let n = y.len();
        if m.len() != n || offset.len() != n || x_colmajor.len() != n * p {
            return Err(Error::bad_input("y, weights, offset and X differ in their number of rows"));
        }
        if let Some(i) = (0..n).find(|&i| !family.valid_response(y[i], m[i])) {
            return Err(Error::bad_input(format!("response value {} (prior weight {}) in row {i} is not valid for the {} family", y[i], m[i], family.name())));
        }
        let u_sys = System::new(&terms, n, 1)?;
        let joint = System::new(&terms, n, p + 1)?;
        let x = (0..n).flat_map(|i| (0..p).map(move |j| x_colmajor[i + j * n])).collect();
        let loglik_constant = (0..n).map(|i| family.loglik_constant(y[i], m[i])).sum();
        let lambda = u_sys.s.terms.iter().map(|t| vec![0.0; t.d * t.d]).collect();
        let q = u_sys.s.q;
        Ok(SparseGlmm {
            n,
            p,
            y: y.to_vec(),
            m: m.to_vec(),
            offset: offset.to_vec(),
            x,
            terms,
            family,
            link,
            loglik_constant,
            u: vec![0.0; q],
            u_sys,
            joint,
            lambda,
            obs: vec![ObsTerms::default(); n],
            eta: vec![0.0; n],
            mode_tol: MODE_TOL,
            lin: offset.to_vec(),
            lin_beta: vec![f64::NAN; p],
            xc: Mat::from_fn(n, p, |i, j| x_colmajor[i + j * n]),
            joint_extras: (0..n).flat_map(|i| (0..=p).map(move |j| if j < p { x_colmajor[i + j * n] } else { 0.0 })).collect(),
            xw: Mat::zeros(n, p),
            rows: RowBuffers::default(),
        })
    }

    /// Number of θ.
    /// Whether the finite-difference Hessian's columns (one evaluation each) are worth
    /// spreading over threads.
    pub fn hessian_in_parallel_pays(&self) -> bool {
        self.n * (self.n_theta() + self.p) >= 20_000
    }

    pub fn n_theta(&self) -> usize {
        self.u_sys.s.n_theta()
    }

    /// Number of random effects.
    pub fn q(&self) -> usize {
        self.u_sys.s.q
    }

    /// Lower bounds of θ (0 on the diagonals of each Λ).
    pub fn theta_lower(&self) -> Vec<f64> {
        self.u_sys.s.theta_lower()
    }

    /// Λ of each term at the last θ.
    pub fn lambda(&self) -> &[Vec<f64>] {
        &self.lambda
    }

    /// The layout of the random effects (terms, their columns).
    pub fn structure(&self) -> &Structure {
        &self.u_sys.s
    }

    pub(super) fn set_theta(&mut self, theta: &[f64]) -> Result<()> {
        self.lambda = self.u_sys.s.lambda(theta)?;
        Ok(())
    }

    /// b = Λu (global order).
    pub fn b_of(&self, u: &[f64]) -> Vec<f64> {
        lambda_times(&self.u_sys.s.terms, &self.lambda, u)
    }

    /// η = Xβ + o + ZΛu into `self.eta`.
    pub(super) fn set_eta(&mut self, u: &[f64], beta: &[f64]) {
        if self.lin_beta.as_slice() != beta {
            self.lin.copy_from_slice(&self.offset);
            add_x_times(&self.x, self.p, beta, &mut self.lin);
            self.lin_beta.copy_from_slice(beta);
        }
        let b = self.b_of(u);
        self.eta.copy_from_slice(&self.lin);
        add_z_times(&self.terms, &self.u_sys.s.terms, &b, &mut self.eta);
    }

    /// h = −Σℓ + ½‖u‖² at (u, β), with the family terms stored.
    pub(super) fn eval_h(&mut self, u: &[f64], beta: &[f64]) -> f64 {
        self.set_eta(u, beta);
        let eta = &self.eta;
        let ll = self.family.terms_block(self.link, &self.y, &self.m, |i| eta[i], &mut self.obs);
        0.5 * u.iter().map(|v| v * v).sum::<f64>() - ll
    }

    /// Cross-products of the u-system (`joint` = false) or the joint system with weights
    /// `w` and working response ηᵢ − oᵢ (− xᵢβ for the u-system) + sᵢ/w_F,ᵢ, then assemble
    /// and factor.
    pub(super) fn factor_at(&mut self, joint: bool, observed: bool) -> Result<()> {
        let n = self.n;
        let (mut w, mut work) = (std::mem::take(&mut self.rows.w), std::mem::take(&mut self.rows.work));
        w.clear();
        w.extend(self.obs.iter().map(|t| if observed { t.w_obs } else { t.w_fisher }));
        // working response: z̃ᵀu + s/w_F (u-system), or that plus Xβ (joint system)
        work.clear();
        work.extend((0..n).map(|i| {
            let t = &self.obs[i];
            let base = if joint { self.eta[i] - self.offset[i] } else { self.eta[i] - self.lin[i] };
            base + if t.w_fisher > 0.0 { t.score / t.w_fisher } else { 0.0 }
        }));
        if joint {
            let block = self.joint_extras_block(&w, &work);
            let sys = &mut self.joint;
            sys.a.fill_cross_products(&sys.s, &sys.plan, &self.terms, &w, &self.joint_extras, Some(&block));
        } else {
            let sys = &mut self.u_sys;
            sys.a.fill_cross_products(&sys.s, &sys.plan, &self.terms, &w, &work, None);
        }
        self.rows.w = w;
        self.rows.work = work;
        let sys = if joint { &mut self.joint } else { &mut self.u_sys };
        assemble(&sys.s, &sys.a, &self.lambda, &mut sys.l);
        factor(&sys.s, &mut sys.l)
    }

    /// [X z]ᵀW[X z] with XᵀWX as one matrix product; stores z in the joint extras.
    pub(super) fn joint_extras_block(&mut self, w: &[f64], work: &[f64]) -> Mat<f64> {
        let (n, p) = (self.n, self.p);
        for i in 0..n {
            self.joint_extras[i * (p + 1) + p] = work[i];
        }
        for j in 0..p {
            let (src, dst) = (self.xc.col_as_slice(j), self.xw.col_as_slice_mut(j));
            dst.iter_mut().zip(src).zip(w).for_each(|((d, x), w)| *d = x * w);
        }
        let xtwx = self.xw.transpose() * &self.xc;
        let mut out = Mat::<f64>::zeros(p + 1, p + 1);
        out.as_mut().submatrix_mut(0, 0, p, p).copy_from(&xtwx);
        for j in 0..p {
            let v: f64 = self.xw.col_as_slice(j).iter().zip(work).map(|(a, b)| a * b).sum();
            out[(p, j)] = v;
            out[(j, p)] = v;
        }
        out[(p, p)] = work.iter().zip(w).map(|(z, w)| w * z * z).sum();
        out
    }

    /// Pieces the gradient and the results need, at the last mode.
    pub(crate) fn parts(&self, joint: bool) -> Parts<'_> {
        let sys = if joint { &self.joint } else { &self.u_sys };
        Parts { s: &sys.s, plan: &sys.plan, l: &sys.l, z: &sys.z, terms: &self.terms, obs: &self.obs, lambda: &self.lambda, u: &self.u, x: &self.x, p: self.p }
    }

    /// Factor the observed-weight system at the mode (for non-canonical links).
    pub(crate) fn factor_observed(&mut self, joint: bool) -> Result<BlockValues> {
        let saved_a = if joint { self.joint.a.clone() } else { self.u_sys.a.clone() };
        let saved_l = if joint { self.joint.l.clone() } else { self.u_sys.l.clone() };
        self.factor_at(joint, true)?;
        let sys = if joint { &mut self.joint } else { &mut self.u_sys };
        let observed = std::mem::replace(&mut sys.l, saved_l);
        sys.a = saved_a;
        Ok(observed)
    }

    /// Whether the observed and Fisher weights coincide (canonical links).
    pub fn canonical(&self) -> bool {
        matches!((self.family, self.link), (Family::Binomial, Link::Logit) | (Family::Poisson, Link::Log))
    }

    /// η, μ and squared deviance residuals at the last mode.
    pub fn fitted(&self) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let mu: Vec<f64> = self.eta.iter().map(|&e| self.family.mu(self.link, e)).collect();
        let dev = (0..self.n).map(|i| self.family.dev_resid(self.y[i], self.m[i], mu[i])).collect();
        (self.eta.clone(), mu, dev)
    }

    /// (RXᵀRX)⁻¹ of the joint Fisher system at the last joint factorisation: lme4's vcov(β̂)
    /// for nAGQ = 0 (the inverse Fisher information of β with u eliminated).
    pub fn fisher_vcov(&mut self, theta: &[f64], beta: &[f64]) -> Result<Mat<f64>> {
        self.set_theta(theta)?;
        self.eval_h(&self.u.clone(), beta);
        self.factor_at(true, false)?;
        let s = &self.joint.s;
        let (o, p) = (s.q - s.q_sparse, self.p);
        let lx = Mat::from_fn(p, p, |i, j| if i >= j { self.joint.l.t[(o + i, o + j)] } else { 0.0 });
        let mut li = Mat::<f64>::zeros(p, p);
        faer::linalg::triangular_inverse::invert_lower_triangular(li.as_mut(), lx.as_ref(), faer::Par::Seq);
        Ok(li.transpose() * &li)
    }

    /// Var(u | y) = M_F⁻¹ diagonal blocks at the last mode (global order, d × d each).
    pub fn cond_var_u(&mut self) -> Result<Vec<f64>> {
        let sys = &mut self.u_sys;
        let s = &sys.s;
        selected_inverse(s, &sys.l, s.q - s.q_sparse, &mut sys.z)?;
        let mut out = Vec::new();
        for t in &s.terms {
            for level in 0..t.n_levels {
                let start = t.start + level * t.d;
                if start < s.q_sparse {
                    out.extend_from_slice(sys.z.diag_block(s, s.block_of(start)));
                } else {
                    let o = s.t_index(start);
                    out.extend((0..t.d * t.d).map(|k| sys.z.t[(o + k % t.d, o + k / t.d)]));
                }
            }
        }
        Ok(out)
    }

    /// Solve with a factor of this model's u- or joint system.
    pub(crate) fn solve_with(&self, joint: bool, l: &BlockValues, rhs: &mut Mat<f64>) {
        let s = if joint { &self.joint.s } else { &self.u_sys.s };
        solve_columns(s, l, rhs);
    }

    /// Trace sums of log det M_F in θ at the last mode (selected inverse computed).
    pub(crate) fn trace_sums_at_mode(&mut self, joint: bool) -> Result<Vec<Vec<f64>>> {
        let sys = if joint { &mut self.joint } else { &mut self.u_sys };
        let upto = sys.s.q - sys.s.q_sparse;
        selected_inverse(&sys.s, &sys.l, upto, &mut sys.z)?;
        Ok(trace_sums(&sys.s, &sys.a, &sys.z, &self.lambda, upto))
    }
}

/// Borrowed pieces at the mode.
pub(crate) struct Parts<'a> {
    pub s: &'a Structure,
    pub plan: &'a RowPlan,
    pub l: &'a BlockValues,
    pub z: &'a BlockValues,
    pub terms: &'a [ReTermData],
    pub obs: &'a [ObsTerms],
    pub lambda: &'a [Vec<f64>],
    pub u: &'a [f64],
    pub x: &'a [f64],
    pub p: usize,
}
