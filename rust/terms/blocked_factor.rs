//! Numbers on the blocked structure of `blocked`: the cross-products A = [Z E]ᵀW[Z E]
//! (E the extra columns), the system C(θ) = Λ̃ᵀAΛ̃ + diag(I_q, 0) with Λ̃ = diag(Λ, I), its
//! Cholesky factor L (the last extra column is the right-hand side: its row of L is L⁻¹c),
//! back-substitution (one or many right-hand sides) and log-determinants. The selected inverse
//! is in `selected_inverse`.

use crate::error::{Error, Result};
use crate::numerics::cancel;
use crate::terms::blocked::{ReTermData, Structure};
use crate::terms::dense_panels;
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::cholesky::llt;
use faer::linalg::triangular_solve::{solve_lower_triangular_in_place, solve_upper_triangular_in_place};
use faer::{Mat, MatMut, MatRef, Par};

/// Values on the structure: a d × d block per sparse level, its column below, and dense T.
#[derive(Clone, Debug)]
pub struct BlockValues {
    pub diag: Vec<f64>,
    pub below: Vec<f64>,
    /// n_t × n_t; lower triangle for C and L, both triangles for A and Z
    pub t: Mat<f64>,
}

/// Dense operations run in parallel from this size of T on.
pub(crate) const PARALLEL_DENSE: usize = 384;

pub(crate) fn dense_par(n: usize) -> Par {
    let k = crate::numerics::par::threads();
    if n >= PARALLEL_DENSE && k > 1 { Par::rayon(k) } else { Par::Seq }
}

impl BlockValues {
    /// All zero.
    pub fn zeros(s: &Structure) -> Self {
        BlockValues { diag: vec![0.0; *s.diag_ptr.last().unwrap_or(&0)], below: vec![0.0; *s.val_ptr.last().unwrap_or(&0)], t: Mat::zeros(s.n_t, s.n_t) }
    }

    /// A = [Z E]ᵀW[Z E] for row weights `w` and extra columns `extras` (row-major n × extra).
    pub fn cross_products(s: &Structure, terms: &[ReTermData], w: &[f64], extras: &[f64]) -> Result<Self> {
        let plan = RowPlan::new(s, terms)?;
        let mut a = Self::zeros(s);
        a.fill_cross_products(s, &plan, terms, w, extras, None);
        Ok(a)
    }

    /// Overwrite with A = [Z E]ᵀW[Z E]. When `extras_block` is given it is EᵀWE (extra × extra),
    /// computed by the caller (e.g. as one matrix product), and the row loop skips that part.
    pub fn fill_cross_products(&mut self, s: &Structure, plan: &RowPlan, terms: &[ReTermData], w: &[f64], extras: &[f64], extras_block: Option<&Mat<f64>>) {
        let (e, k, nst) = (s.extra, terms.len(), s.n_sparse_terms);
        self.diag.fill(0.0);
        self.below.fill(0.0);
        self.t.fill(0.0);
        let n_dense_extras = if extras_block.is_some() { 0 } else { e };
        let mut idx: Vec<usize> = Vec::new();
        let mut val: Vec<f64> = Vec::new();
        for (i, &wi) in w.iter().enumerate() {
            if wi == 0.0 {
                continue;
            }
            let xe = &extras[i * e..(i + 1) * e];
            let first = &plan.first[i * k..(i + 1) * k];
            let mut pos = plan.pos[i * plan.pairs..(i + 1) * plan.pairs].iter();
            for t in 0..nst {
                let d = terms[t].d;
                let zt = &terms[t].z[i * d..(i + 1) * d];
                let b = plan.block[i * nst + t] as usize;
                let nr = s.row_ptr[b + 1] - s.row_ptr[b];
                let diag = &mut self.diag[s.diag_ptr[b]..s.diag_ptr[b + 1]];
                let vals = &mut self.below[s.val_ptr[b]..s.val_ptr[b + 1]];
                if d == 1 {
                    let wz = wi * zt[0];
                    diag[0] += wz * zt[0];
                    for u in t + 1..k {
                        let p = *pos.next().unwrap_or(&0) as usize;
                        let du = terms[u].d;
                        terms[u].z[i * du..(i + 1) * du].iter().enumerate().for_each(|(r, z)| vals[p + r] += wz * z);
                    }
                    vals[nr - e..].iter_mut().zip(xe).for_each(|(v, x)| *v += wz * x);
                    continue;
                }
                for c in 0..d {
                    for r in 0..d {
                        diag[r + c * d] += wi * zt[r] * zt[c];
                    }
                }
                for u in t + 1..k {
                    let p = *pos.next().unwrap_or(&0) as usize;
                    let du = terms[u].d;
                    let zu = &terms[u].z[i * du..(i + 1) * du];
                    for c in 0..d {
                        (0..du).for_each(|r| vals[p + r + c * nr] += wi * zu[r] * zt[c]);
                    }
                }
                for c in 0..d {
                    (0..e).for_each(|kk| vals[nr - e + kk + c * nr] += wi * xe[kk] * zt[c]);
                }
            }
            if nst == k && n_dense_extras == 0 {
                continue;
            }
            if plan.scalar_dense {
                // one column per dense term: products with the later dense terms and the
                // extras; then the extras' own products
                let o = s.n_t - e;
                for u in nst..k {
                    let tu = s.t_index(first[u] as usize);
                    let wz = wi * terms[u].z[i];
                    let col = self.t.col_as_slice_mut(tu);
                    for v in u..k {
                        col[s.t_index(first[v] as usize)] += wz * terms[v].z[i];
                    }
                    col[o..o + e].iter_mut().zip(xe).for_each(|(c, x)| *c += wz * x);
                }
                for j in 0..n_dense_extras {
                    let wx = wi * xe[j];
                    let col = &mut self.t.col_as_slice_mut(o + j)[o + j..o + e];
                    col.iter_mut().zip(&xe[j..]).for_each(|(c, x)| *c += wx * x);
                }
                continue;
            }
            idx.clear();
            val.clear();
            for (u, term) in terms.iter().enumerate().skip(nst) {
                let f = s.t_index(first[u] as usize);
                idx.extend(f..f + term.d);
                val.extend_from_slice(&term.z[i * term.d..(i + 1) * term.d]);
            }
            let n_re = idx.len();
            idx.extend(s.n_t - e..s.n_t);
            val.extend_from_slice(xe);
            for (jj, &j) in idx.iter().enumerate().take(n_re + n_dense_extras) {
                let wv = wi * val[jj];
                let col = self.t.col_as_slice_mut(j);
                for ii in jj..idx.len() {
                    col[idx[ii]] += wv * val[ii];
                }
            }
        }
        if let Some(eb) = extras_block {
            let o = s.n_t - e;
            for j in 0..e {
                for i in j..e {
                    self.t[(o + i, o + j)] = eb[(i, j)];
                }
            }
        }
        symmetrize(self.t.as_mut());
    }

    /// The diagonal block of sparse block b (d × d, column-major).
    pub fn diag_block(&self, s: &Structure, b: usize) -> &[f64] {
        &self.diag[s.diag_ptr[b]..s.diag_ptr[b + 1]]
    }

    /// The column below sparse block b (|rows| × d, column-major).
    pub fn below_block(&self, s: &Structure, b: usize) -> &[f64] {
        &self.below[s.val_ptr[b]..s.val_ptr[b + 1]]
    }
}

/// Where each row's cross-products go: the first global column of its level in every term,
/// its block in every sparse term, and the position of every later term's level in that
/// block's pattern. Computed once per model, so the per-row work is a few multiply-adds.
#[derive(Clone, Debug)]
pub struct RowPlan {
    /// every dense term has one column (d = 1)
    scalar_dense: bool,
    first: Vec<u32>,
    block: Vec<u32>,
    pos: Vec<u32>,
    pairs: usize,
}

impl RowPlan {
    /// Row i's level block in sparse term t.
    #[inline]
    pub fn block(&self, i: usize, t: usize, n_sparse_terms: usize) -> usize {
        self.block[i * n_sparse_terms + t] as usize
    }

    /// Row i's first global column in term t.
    #[inline]
    pub fn first(&self, i: usize, t: usize, k: usize) -> usize {
        self.first[i * k + t] as usize
    }

    /// Positions, in the pattern of row i's block of each sparse term, of its levels of the
    /// later terms (sparse term by sparse term).
    #[inline]
    pub fn positions(&self, i: usize) -> &[u32] {
        &self.pos[i * self.pairs..(i + 1) * self.pairs]
    }

    /// The plan for `terms` on structure `s`.
    pub fn new(s: &Structure, terms: &[ReTermData]) -> Result<Self> {
        let (k, nst) = (terms.len(), s.n_sparse_terms);
        let n = terms.first().map_or(0, |t| t.codes.len());
        let pairs: usize = (0..nst).map(|t| k - t - 1).sum();
        let (mut first, mut block, mut pos) = (Vec::with_capacity(n * k), Vec::with_capacity(n * nst), Vec::with_capacity(n * pairs));
        let mut f = vec![0usize; k];
        for i in 0..n {
            for (fu, (t, l)) in f.iter_mut().zip(terms.iter().zip(&s.terms)) {
                *fu = l.start + t.codes[i] as usize * t.d;
            }
            first.extend(f.iter().map(|&v| v as u32));
            for t in 0..nst {
                let b = s.block_of(f[t]);
                block.push(b as u32);
                let rows = s.block_rows(b);
                for &fu in &f[t + 1..] {
                    let p = rows.binary_search(&(fu as u32)).map_err(|_| Error::bad_input("internal: cross-product outside the symbolic pattern"))?;
                    pos.push(p as u32);
                }
            }
        }
        let scalar_dense = terms[nst..].iter().all(|t| t.d == 1);
        Ok(RowPlan { scalar_dense, first, block, pos, pairs })
    }
}

/// Copy the lower triangle to the upper, in 32 × 32 tiles (a plain transposing loop strides
/// through memory and costs more than the inverse it follows).
pub fn symmetrize(mut m: MatMut<'_, f64>) {
    const TILE: usize = 32;
    let n = m.nrows();
    for jb in (0..n).step_by(TILE) {
        for ib in (jb..n).step_by(TILE) {
            for j in jb..(jb + TILE).min(n) {
                for i in ib.max(j + 1)..(ib + TILE).min(n) {
                    let v = m[(i, j)];
                    m[(j, i)] = v;
                }
            }
        }
    }
}

/// v ← Λᵀ v for a column-major d × d lower-triangular Λ (rows of one level block, stride 1).
#[inline]
fn lam_t_times(lam: &[f64], d: usize, v: &mut [f64], stride: usize) {
    for r in 0..d {
        let mut acc = 0.0;
        for k in r..d {
            acc += lam[k + r * d] * v[k * stride];
        }
        v[r * stride] = acc;
    }
}

/// Row ← row · Λ for one row of an nr × d column-major matrix.
#[inline]
fn row_times_lam(lam: &[f64], d: usize, m: &mut [f64], row: usize, nr: usize) {
    for c in 0..d {
        let mut acc = 0.0;
        for k in c..d {
            acc += m[row + k * nr] * lam[k + c * d];
        }
        m[row + c * nr] = acc;
    }
}

/// Λ̃ᵀ on the rows of a column of a sparse block (level blocks of terms get Λᵀ, extras 1).
fn lam_rows(s: &Structure, lam: &[Vec<f64>], rows: &[u32], m: &mut [f64], ncols: usize) {
    let nr = rows.len();
    let mut i = 0;
    while i < nr {
        let g = rows[i] as usize;
        if g >= s.q {
            break;
        }
        let t = s.col_term[g] as usize;
        let d = s.terms[t].d;
        if d == 1 {
            let l = lam[t][0];
            (0..ncols).for_each(|c| m[i + c * nr] *= l);
        } else {
            (0..ncols).for_each(|c| lam_t_times(&lam[t], d, &mut m[i + c * nr..], 1));
        }
        i += d;
    }
}

/// C(θ) = Λ̃ᵀAΛ̃ + diag(I_q, 0) into `out` (lower triangle of T).
pub fn assemble(s: &Structure, a: &BlockValues, lam: &[Vec<f64>], out: &mut BlockValues) {
    for t in 0..s.n_sparse_terms {
        let l = &s.terms[t];
        let (d, lt) = (l.d, &lam[t]);
        for b in l.first_block..l.first_block + l.n_levels {
            let src = a.diag_block(s, b);
            let dst = &mut out.diag[s.diag_ptr[b]..s.diag_ptr[b + 1]];
            dst.copy_from_slice(src);
            (0..d).for_each(|r| row_times_lam(lt, d, dst, r, d));
            (0..d).for_each(|c| lam_t_times(lt, d, &mut dst[c * d..], 1));
            (0..d).for_each(|r| dst[r + r * d] += 1.0);
            let rows = s.block_rows(b);
            let nr = rows.len();
            let dst = &mut out.below[s.val_ptr[b]..s.val_ptr[b + 1]];
            dst.copy_from_slice(a.below_block(s, b));
            (0..nr).for_each(|r| row_times_lam(lt, d, dst, r, nr));
            lam_rows(s, lam, rows, dst, d);
        }
    }
    assemble_dense(s, &a.t, lam, &mut out.t);
}

/// The dense block: Λ̃ᵀA_TTΛ̃ + I on its random-effects columns (lower triangle).
fn assemble_dense(s: &Structure, a: &Mat<f64>, lam: &[Vec<f64>], out: &mut Mat<f64>) {
    let n = s.n_t;
    let q_t = s.q - s.q_sparse;
    let scalar = s.terms[s.n_sparse_terms..].iter().all(|l| l.d == 1);
    if scalar {
        let lv: Vec<f64> = (0..n).map(|j| if j < q_t { lam[s.col_term[s.q_sparse + j] as usize][0] } else { 1.0 }).collect();
        for j in 0..n {
            let (src, dst) = (a.col(j), out.col_mut(j));
            let lj = lv[j];
            for (i, (o, &v)) in dst.iter_mut().zip(src.iter()).enumerate().skip(j) {
                *o = lv[i] * lj * v;
            }
        }
    } else {
        out.copy_from(a);
        let mut j = 0;
        while j < q_t {
            let t = s.col_term[s.q_sparse + j] as usize;
            let d = s.terms[t].d;
            for i in 0..n {
                let row: Vec<f64> = (0..d).map(|c| (c..d).map(|k| out[(i, j + k)] * lam[t][k + c * d]).sum()).collect();
                (0..d).for_each(|c| out[(i, j + c)] = row[c]);
            }
            for col in 0..n {
                let v: Vec<f64> = (0..d).map(|r| (r..d).map(|k| lam[t][k + r * d] * out[(j + k, col)]).sum()).collect();
                (0..d).for_each(|r| out[(j + r, col)] = v[r]);
            }
            j += d;
        }
    }
    (0..q_t).for_each(|j| out[(j, j)] += 1.0);
}

/// Cholesky of a small block in place (column-major, upper triangle zeroed).
fn chol_small(m: &mut [f64], d: usize, block: usize) -> Result<()> {
    let bad = || Error::NotPositiveDefinite { what: "a diagonal block of the penalised system", block: Some(block) };
    if d == 1 {
        if !(m[0] > 0.0 && m[0].is_finite()) {
            return Err(bad());
        }
        m[0] = m[0].sqrt();
        return Ok(());
    }
    let mut mem = MemBuffer::new(llt::factor::cholesky_in_place_scratch::<f64>(d, Par::Seq, Default::default()));
    let view = MatMut::from_column_major_slice_mut(m, d, d);
    llt::factor::cholesky_in_place(view, Default::default(), Par::Seq, MemStack::new(&mut mem), Default::default()).map_err(|_| bad())?;
    for c in 1..d {
        for r in 0..c {
            m[r + c * d] = 0.0;
        }
    }
    Ok(())
}

/// M ← M·L⁻ᵀ for an nr × d column-major M.
fn right_solve_lt(l: &[f64], d: usize, m: &mut [f64], nr: usize) {
    if d == 1 {
        let inv = 1.0 / l[0];
        m.iter_mut().for_each(|v| *v *= inv);
        return;
    }
    let lm = MatRef::from_column_major_slice(l, d, d);
    let mt = MatMut::from_column_major_slice_mut(m, nr, d).transpose_mut();
    solve_lower_triangular_in_place(lm, mt, Par::Seq);
}

/// Factor C in place: L with LLᵀ = C, the right-hand-side row holding L⁻¹c.
pub fn factor(s: &Structure, m: &mut BlockValues) -> Result<()> {
    let mut ti: Vec<usize> = Vec::new();
    // a look at the token (one atomic load) per block: a block's update of a large dense T
    // can take milliseconds
    let token = cancel::current();
    for b in 0..s.n_sparse_blocks() {
        token.check()?;
        let d = s.block(b).2;
        let (dlo, dhi) = m.diag.split_at_mut(s.diag_ptr[b + 1]);
        let lbb = &mut dlo[s.diag_ptr[b]..];
        chol_small(lbb, d, b)?;
        let (vlo, vhi) = m.below.split_at_mut(s.val_ptr[b + 1]);
        let col = &mut vlo[s.val_ptr[b]..];
        let rows = s.block_rows(b);
        let nr = rows.len();
        right_solve_lt(lbb, d, col, nr);
        let col: &[f64] = col;
        for tg in &s.targets[s.target_ptr[b]..s.target_ptr[b + 1]] {
            let k = tg.block as usize;
            let dk = s.block(k).2;
            let f = tg.first as usize;
            let dk_diag = &mut dhi[s.diag_ptr[k] - s.diag_ptr[b + 1]..s.diag_ptr[k + 1] - s.diag_ptr[b + 1]];
            for c2 in 0..dk {
                for r2 in c2..dk {
                    dk_diag[r2 + c2 * dk] -= (0..d).map(|c| col[f + r2 + c * nr] * col[f + c2 + c * nr]).sum::<f64>();
                }
            }
            let nrk = s.row_ptr[k + 1] - s.row_ptr[k];
            let kcol = &mut vhi[s.val_ptr[k] - s.val_ptr[b + 1]..s.val_ptr[k + 1] - s.val_ptr[b + 1]];
            for (j, i) in (f + dk..nr).enumerate() {
                let pos = s.rel[tg.rel_start + j] as usize;
                for c2 in 0..dk {
                    kcol[pos + c2 * nrk] -= (0..d).map(|c| col[i + c * nr] * col[f + c2 + c * nr]).sum::<f64>();
                }
            }
        }
        let ns = s.n_sparse_rows[b] as usize;
        ti.clear();
        ti.extend(rows[ns..].iter().map(|&r| s.t_index(r as usize)));
        let contiguous = ti.last().is_some_and(|&last| last + 1 - ti[0] == ti.len());
        for (j, &tj) in ti.iter().enumerate() {
            let dst = m.t.col_as_slice_mut(tj);
            if d == 1 && contiguous {
                // the rows are one run of T (e.g. every item of a crossed design): an axpy
                let cj = col[ns + j];
                dst[tj..tj + ti.len() - j].iter_mut().zip(&col[ns + j..nr]).for_each(|(t, c)| *t -= c * cj);
            } else if d == 1 {
                let cj = col[ns + j];
                for (i, &t_i) in ti.iter().enumerate().skip(j) {
                    dst[t_i] -= col[ns + i] * cj;
                }
            } else {
                for (i, &t_i) in ti.iter().enumerate().skip(j) {
                    dst[t_i] -= (0..d).map(|c| col[ns + i + c * nr] * col[ns + j + c * nr]).sum::<f64>();
                }
            }
        }
    }
    factor_dense(s, &mut m.t)
}

/// Dense Cholesky of T without its last (right-hand-side) column, then that row: L⁻¹c.
fn factor_dense(s: &Structure, t: &mut Mat<f64>) -> Result<()> {
    let n = s.n_t - usize::from(s.extra > 0);
    if n > 0 {
        dense_panels::cholesky(t.as_mut().submatrix_mut(0, 0, n, n), dense_par(n))?;
    }
    if s.extra > 0 && n > 0 {
        let mut rhs = Mat::from_fn(n, 1, |i, _| t[(n, i)]);
        solve_lower_triangular_in_place(t.as_ref().submatrix(0, 0, n, n), rhs.as_mut(), Par::Seq);
        (0..n).for_each(|i| t[(n, i)] = rhs[(i, 0)]);
    }
    Ok(())
}

/// (Σ log det of the random-effects diagonal blocks of L², Σ over the extra columns except
/// the right-hand side): log|LθLθᵀ| = log|M| and log|R_X|².
pub fn logdets(s: &Structure, l: &BlockValues) -> (f64, f64) {
    let mut ld = 0.0;
    for b in 0..s.n_sparse_blocks() {
        let d = s.block(b).2;
        let blk = l.diag_block(s, b);
        ld += (0..d).map(|i| blk[i + i * d].ln()).sum::<f64>();
    }
    let q_t = s.q - s.q_sparse;
    ld += (0..q_t).map(|i| l.t[(i, i)].ln()).sum::<f64>();
    let ldx = (q_t..s.n_t.saturating_sub(1)).map(|i| l.t[(i, i)].ln()).sum::<f64>();
    (2.0 * ld, 2.0 * ldx)
}

/// The solution x of Cx = c (global order: random effects u, then the extras but the last).
pub fn solve(s: &Structure, l: &BlockValues) -> Vec<f64> {
    let n = s.n_t - 1;
    let mut x = vec![0.0; s.q + s.extra - 1];
    let mut xt = Mat::from_fn(n, 1, |i, _| l.t[(n, i)]);
    solve_upper_triangular_in_place(l.t.as_ref().submatrix(0, 0, n, n).transpose(), xt.as_mut(), Par::Seq);
    (0..n).for_each(|i| x[s.q_sparse + i] = xt[(i, 0)]);
    for b in (0..s.n_sparse_blocks()).rev() {
        let d = s.block(b).2;
        let rows = s.block_rows(b);
        let nr = rows.len();
        let col = l.below_block(s, b);
        let mut v: Vec<f64> = (0..d).map(|c| col[nr - 1 + c * nr] - (0..nr - 1).map(|i| col[i + c * nr] * x[rows[i] as usize]).sum::<f64>()).collect();
        let lbb = MatRef::from_column_major_slice(l.diag_block(s, b), d, d);
        solve_upper_triangular_in_place(lbb.transpose(), MatMut::from_column_major_slice_mut(&mut v, d, 1), Par::Seq);
        let start = s.block_start(b);
        x[start..start + d].copy_from_slice(&v);
    }
    x
}

/// Solve C x = r for the k columns of `r` ((q + extra − 1) × k, global order), in place.
pub fn solve_columns(s: &Structure, l: &BlockValues, r: &mut Mat<f64>) {
    let k = r.ncols();
    let nb = s.n_sparse_blocks();
    for b in 0..nb {
        let d = s.block(b).2;
        let (rows, col, lbb) = (s.block_rows(b), l.below_block(s, b), l.diag_block(s, b));
        let (nr, start) = (rows.len(), s.block_start(b));
        for j in 0..k {
            let mut w: Vec<f64> = (0..d).map(|c| r[(start + c, j)]).collect();
            lower_solve_small(lbb, d, &mut w);
            for i in 0..nr - 1 {
                let v: f64 = (0..d).map(|c| col[i + c * nr] * w[c]).sum();
                r[(rows[i] as usize, j)] -= v;
            }
            (0..d).for_each(|c| r[(start + c, j)] = w[c]);
        }
    }
    let n = s.n_t - 1;
    if n > 0 {
        let lt = l.t.as_ref().submatrix(0, 0, n, n);
        let mut rt = r.as_mut().submatrix_mut(s.q_sparse, 0, n, k);
        let par = if k > 1 { dense_par(n) } else { Par::Seq };
        solve_lower_triangular_in_place(lt, rt.as_mut(), par);
        solve_upper_triangular_in_place(lt.transpose(), rt, par);
    }
    for b in (0..nb).rev() {
        let d = s.block(b).2;
        let (rows, col, lbb) = (s.block_rows(b), l.below_block(s, b), l.diag_block(s, b));
        let (nr, start) = (rows.len(), s.block_start(b));
        for j in 0..k {
            let mut w: Vec<f64> = (0..d).map(|c| r[(start + c, j)] - (0..nr - 1).map(|i| col[i + c * nr] * r[(rows[i] as usize, j)]).sum::<f64>()).collect();
            upper_solve_small(lbb, d, &mut w);
            (0..d).for_each(|c| r[(start + c, j)] = w[c]);
        }
    }
}

/// w ← L⁻¹w for a small lower-triangular L (column-major).
fn lower_solve_small(l: &[f64], d: usize, w: &mut [f64]) {
    for i in 0..d {
        let v = w[i] - (0..i).map(|j| l[i + j * d] * w[j]).sum::<f64>();
        w[i] = v / l[i + i * d];
    }
}

/// w ← L⁻ᵀw for a small lower-triangular L (column-major).
fn upper_solve_small(l: &[f64], d: usize, w: &mut [f64]) {
    for i in (0..d).rev() {
        let v = w[i] - (i + 1..d).map(|j| l[j + i * d] * w[j]).sum::<f64>();
        w[i] = v / l[i + i * d];
    }
}
