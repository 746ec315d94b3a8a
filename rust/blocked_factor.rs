//! Numbers on the blocked structure of `blocked.rs`: the cross-products A = [Z E]ᵀW[Z E]
//! (E the extra columns), the system C(θ) = Λ̃ᵀAΛ̃ + diag(I_q, 0) with Λ̃ = diag(Λ, I), its
//! Cholesky factor L (the last extra column is the right-hand side: its row of L is L⁻¹c),
//! back-substitution, log-determinants, and the selected inverse Z = C⁻¹ on the pattern of L
//! (Takahashi, Fagan & Chen 1973; Erisman & Tinney 1975), computed block by block backwards:
//! Q = L_RJ L_JJ⁻¹, Z_RJ = −Z_RR Q, Z_JJ = (L_JJ L_JJᵀ)⁻¹ + Qᵀ Z_RR Q.

use crate::blocked::{ReTermData, Structure};
use crate::error::{Error, Result};
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
const PARALLEL_DENSE: usize = 384;

fn dense_par(n: usize) -> Par {
    let k = rayon::current_num_threads();
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
            if plan.scalar_dense && n_dense_extras == 0 {
                // one column per dense term: products with the later dense terms and the extras
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
    for b in 0..s.n_sparse_blocks() {
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
        let par = dense_par(n);
        let mut mem = MemBuffer::new(llt::factor::cholesky_in_place_scratch::<f64>(n, par, Default::default()));
        let view = t.as_mut().submatrix_mut(0, 0, n, n);
        llt::factor::cholesky_in_place(view, Default::default(), par, MemStack::new(&mut mem), Default::default())
            .map_err(|_| Error::NotPositiveDefinite { what: "the dense block of the penalised system (are the fixed effects collinear?)", block: None })?;
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

/// Z = C⁻¹ restricted to the first `upto` columns of T (the random effects of the dense
/// terms, and the extras up to `upto`) and the sparse part, on the pattern of L. With
/// `upto = q_T` this is M⁻¹ = (ΛᵀZᵀWZΛ + I)⁻¹; with `upto = q_T + p`, the full C⁻¹.
pub fn selected_inverse(s: &Structure, l: &BlockValues, upto: usize, z: &mut BlockValues) {
    if upto > 0 {
        let par = dense_par(upto);
        let mut mem = MemBuffer::new(llt::inverse::inverse_scratch::<f64>(upto, par));
        let mut out = z.t.as_mut().submatrix_mut(0, 0, upto, upto);
        llt::inverse::inverse(out.as_mut(), l.t.as_ref().submatrix(0, 0, upto, upto), par, MemStack::new(&mut mem));
        symmetrize(out);
    }
    let cutoff = (s.q_sparse + upto) as u32;
    let nb = s.n_sparse_blocks();
    let BlockValues { diag, below, t } = z;
    if s.targets.is_empty() && rayon::current_num_threads() > 1 && s.val_ptr[nb] >= PARALLEL_BLOCK_WORK {
        // no sparse block feeds another: the blocks are independent given Z_T
        use rayon::prelude::*;
        let (mut diag_parts, mut below_parts) = (Vec::with_capacity(nb), Vec::with_capacity(nb));
        let (mut drest, mut brest) = (diag.as_mut_slice(), below.as_mut_slice());
        for b in 0..nb {
            let (dh, dt) = drest.split_at_mut(s.diag_ptr[b + 1] - s.diag_ptr[b]);
            let (bh, bt) = brest.split_at_mut(s.val_ptr[b + 1] - s.val_ptr[b]);
            diag_parts.push(dh);
            below_parts.push(bh);
            (drest, brest) = (dt, bt);
        }
        let t: &Mat<f64> = t;
        diag_parts.into_par_iter().zip(below_parts).enumerate().for_each_init(SelinvScratch::default, |sc, (b, (zd, zb))| {
            selinv_block(s, l, b, cutoff, |nk, out| gather_dense(s, t, b, nk, out), zd, zb, sc);
        });
        return;
    }
    let mut sc = SelinvScratch::default();
    for b in (0..nb).rev() {
        let (zd_all, zb_all) = (&*diag, &*below);
        let mut gathered = Vec::new();
        {
            let rows = s.block_rows(b);
            let nk = rows.partition_point(|&r| r < cutoff);
            gather_zrr(s, zd_all, zb_all, t, b, nk, &mut gathered);
        }
        let (mut zd, mut zb) = (vec![0.0; s.diag_ptr[b + 1] - s.diag_ptr[b]], vec![0.0; s.val_ptr[b + 1] - s.val_ptr[b]]);
        selinv_block(s, l, b, cutoff, |_, out| std::mem::swap(out, &mut gathered), &mut zd, &mut zb, &mut sc);
        diag[s.diag_ptr[b]..s.diag_ptr[b + 1]].copy_from_slice(&zd);
        below[s.val_ptr[b]..s.val_ptr[b + 1]].copy_from_slice(&zb);
    }
}

/// Sparse blocks' worth of values (Σ |rows|·d) from which their selected inverse runs in
/// parallel.
const PARALLEL_BLOCK_WORK: usize = 20_000;

/// Per-thread scratch of the selected inverse.
#[derive(Default)]
struct SelinvScratch {
    zrr: Vec<f64>,
    q: Vec<f64>,
    y: Vec<f64>,
    inv: Vec<f64>,
}

/// One block of the selected inverse: Q = L_RJ L_JJ⁻¹, Z_RJ = −Z_RR Q (into `zcol`),
/// Z_JJ = (L_JJ L_JJᵀ)⁻¹ + Qᵀ Z_RR Q (into `zdiag`); `gather(nk, out)` fills Z_RR.
#[allow(clippy::too_many_arguments)]
fn selinv_block(s: &Structure, l: &BlockValues, b: usize, cutoff: u32, gather: impl FnOnce(usize, &mut Vec<f64>), zdiag: &mut [f64], zcol: &mut [f64], sc: &mut SelinvScratch) {
    let d = s.block(b).2;
    let rows = s.block_rows(b);
    let (nr, nk) = (rows.len(), rows.partition_point(|&r| r < cutoff));
    gather(nk, &mut sc.zrr);
    let lcol = l.below_block(s, b);
    let lbb = l.diag_block(s, b);
    let SelinvScratch { zrr, q, y, inv } = sc;
    q.clear();
    (0..d).for_each(|c| q.extend_from_slice(&lcol[c * nr..c * nr + nk]));
    if d == 1 {
        let inv_l = 1.0 / lbb[0];
        q.iter_mut().for_each(|v| *v *= inv_l);
    } else if nk > 0 {
        let qt = MatMut::from_column_major_slice_mut(q, nk, d).transpose_mut();
        solve_upper_triangular_in_place(MatRef::from_column_major_slice(lbb, d, d).transpose(), qt, Par::Seq);
    }
    // Y = Z_RR Q (column by column: axpy over the columns of Z_RR)
    y.clear();
    y.resize(nk * d, 0.0);
    for c in 0..d {
        let yc = &mut y[c * nk..(c + 1) * nk];
        for j in 0..nk {
            let qj = q[j + c * nk];
            if qj != 0.0 {
                let zj = &zrr[j * nk..(j + 1) * nk];
                yc.iter_mut().zip(zj).for_each(|(y, z)| *y += z * qj);
            }
        }
    }
    zcol.fill(0.0);
    (0..d).for_each(|c| (0..nk).for_each(|i| zcol[i + c * nr] = -y[i + c * nk]));
    inv.clear();
    inv.resize(d * d, 0.0);
    small_inverse(lbb, d, inv);
    for c in 0..d {
        for r in 0..d {
            inv[r + c * d] += q[r * nk..(r + 1) * nk].iter().zip(&y[c * nk..(c + 1) * nk]).map(|(a, b)| a * b).sum::<f64>();
        }
    }
    zdiag.copy_from_slice(inv);
}

/// (LLᵀ)⁻¹ for a small lower-triangular L.
fn small_inverse(l: &[f64], d: usize, out: &mut [f64]) {
    if d == 1 {
        out[0] = 1.0 / (l[0] * l[0]);
        return;
    }
    out.fill(0.0);
    (0..d).for_each(|i| out[i + i * d] = 1.0);
    let lm = MatRef::from_column_major_slice(l, d, d);
    let mut o = MatMut::from_column_major_slice_mut(out, d, d);
    solve_lower_triangular_in_place(lm, o.as_mut(), Par::Seq);
    solve_upper_triangular_in_place(lm.transpose(), o, Par::Seq);
}

/// Z on the first `nk` rows of block b's pattern, as a dense nk × nk matrix.
fn gather_zrr(s: &Structure, zdiag: &[f64], zbelow: &[f64], zt: &Mat<f64>, b: usize, nk: usize, out: &mut Vec<f64>) {
    out.clear();
    out.resize(nk * nk, 0.0);
    let ns = (s.n_sparse_rows[b] as usize).min(nk);
    for tg in &s.targets[s.target_ptr[b]..s.target_ptr[b + 1]] {
        let (k, f) = (tg.block as usize, tg.first as usize);
        let dk = s.block(k).2;
        let zk = &zdiag[s.diag_ptr[k]..s.diag_ptr[k + 1]];
        for c in 0..dk {
            for r in 0..dk {
                out[f + r + (f + c) * nk] = zk[r + c * dk];
            }
        }
        let nrk = s.row_ptr[k + 1] - s.row_ptr[k];
        let zkcol = &zbelow[s.val_ptr[k]..s.val_ptr[k + 1]];
        for (j, i) in (f + dk..nk).enumerate() {
            let pos = s.rel[tg.rel_start + j] as usize;
            for c in 0..dk {
                let v = zkcol[pos + c * nrk];
                out[i + (f + c) * nk] = v;
                out[f + c + i * nk] = v;
            }
        }
    }
    gather_t_rows(s, zt, b, ns, nk, out);
}

/// The dense-block part of `gather_zrr` alone (blocks with only T rows below them).
fn gather_dense(s: &Structure, zt: &Mat<f64>, b: usize, nk: usize, out: &mut Vec<f64>) {
    out.clear();
    out.resize(nk * nk, 0.0);
    let ns = (s.n_sparse_rows[b] as usize).min(nk);
    gather_t_rows(s, zt, b, ns, nk, out);
}

fn gather_t_rows(s: &Structure, zt: &Mat<f64>, b: usize, ns: usize, nk: usize, out: &mut [f64]) {
    let rows = s.block_rows(b);
    let first = rows.get(ns).map_or(0, |&r| s.t_index(r as usize));
    let contiguous = nk > ns && s.t_index(rows[nk - 1] as usize) + 1 - first == nk - ns;
    for jj in 0..nk - ns {
        let tj = s.t_index(rows[ns + jj] as usize);
        let zc = zt.col_as_slice(tj);
        let dst = &mut out[(ns + jj) * nk + ns..(ns + jj + 1) * nk];
        if contiguous {
            dst.copy_from_slice(&zc[first..first + nk - ns]);
        } else {
            dst.iter_mut().zip(&rows[ns..nk]).for_each(|(o, &r)| *o = zc[s.t_index(r as usize)]);
        }
    }
}

/// Σ over the levels J of each term of G_JJ = Σ_B A_JB Λ̃_B Z_BJ, B over the columns below
/// `upto` in T and all of the sparse part (d × d per term, column-major). The derivative of
/// log det C (or of log det M, `upto = q_T`) in the θ at (r, c) of term t is 2·G_t[r, c].
pub fn trace_sums(s: &Structure, a: &BlockValues, z: &BlockValues, lam: &[Vec<f64>], upto: usize) -> Vec<Vec<f64>> {
    let mut g: Vec<Vec<f64>> = s.terms.iter().map(|l| vec![0.0; l.d * l.d]).collect();
    let cutoff = (s.q_sparse + upto) as u32;
    for b in 0..s.n_sparse_blocks() {
        let (t, _, d) = s.block(b);
        let (ad, zd) = (a.diag_block(s, b), z.diag_block(s, b));
        add_abz(&mut g[t], d, d, |i, k| ad[i + k * d], &lam[t], |k, j| zd[k + j * d]);
        let rows = s.block_rows(b);
        let nr = rows.len();
        let (acol, zcol) = (a.below_block(s, b), z.below_block(s, b));
        let mut i = 0;
        while i < nr && rows[i] < cutoff {
            let gr = rows[i] as usize;
            if gr >= s.q {
                // an extra column (Λ̃ = 1): G_JJ += a_xJᵀ z_xJ
                let gt = &mut g[t];
                (0..d).for_each(|c| (0..d).for_each(|r| gt[r + c * d] += acol[i + r * nr] * zcol[i + c * nr]));
                i += 1;
                continue;
            }
            let h = s.col_term[gr] as usize;
            let dh = s.terms[h].d;
            // B = H (later): G_JJ += A_HJᵀ Λ_H Z_HJ
            add_abz(&mut g[t], d, dh, |r, k| acol[i + k + r * nr], &lam[h], |k, c| zcol[i + k + c * nr]);
            // B = J (earlier) for H's own sum: G_HH += A_HJ Λ_J Z_HJᵀ
            add_abz(&mut g[h], dh, d, |r, k| acol[i + r + k * nr], &lam[t], |k, c| zcol[i + c + k * nr]);
            i += dh;
        }
    }
    dense_trace_sums(s, a, z, lam, upto, &mut g);
    g
}

/// out (m × m) += A (m × k) · Λ (k × k lower) · Z (k × m), entries by closures.
#[inline]
fn add_abz(out: &mut [f64], m: usize, k: usize, a: impl Fn(usize, usize) -> f64, lam: &[f64], z: impl Fn(usize, usize) -> f64) {
    for r in 0..m {
        for c in 0..m {
            let mut acc = 0.0;
            for j in 0..k {
                let al: f64 = (j..k).map(|i| a(r, i) * lam[i + j * k]).sum();
                acc += al * z(j, c);
            }
            out[r + c * m] += acc;
        }
    }
}

/// The dense terms' part of `trace_sums`: for each random-effects row i of T, the row
/// (AΛ̃)ᵢ over the first `upto` columns against the columns of Z of i's level block.
fn dense_trace_sums(s: &Structure, a: &BlockValues, z: &BlockValues, lam: &[Vec<f64>], upto: usize, g: &mut [Vec<f64>]) {
    let q_t = s.q - s.q_sparse;
    let scalar = s.terms[s.n_sparse_terms..].iter().all(|l| l.d == 1);
    let lv: Vec<f64> = (0..upto).map(|j| if j < q_t && scalar { lam[s.col_term[s.q_sparse + j] as usize][0] } else { 1.0 }).collect();
    let mut lrow = vec![0.0; upto];
    for i in 0..q_t.min(upto) {
        let t = s.col_term[s.q_sparse + i] as usize;
        let (l, d) = (&s.terms[t], s.terms[t].d);
        let r = (s.q_sparse + i - l.start) % d;
        let level_first = i - r;
        // (AΛ̃)[i, j] = Σ_{j' in j's group} A[j', i] Λ̃[j', j]; A symmetric so column i is row i
        let acol = &a.t.col_as_slice(i)[..upto];
        if scalar {
            lrow.iter_mut().zip(acol).zip(&lv).for_each(|((o, a), l)| *o = a * l);
        } else {
            let mut j = 0;
            while j < upto {
                if j >= q_t {
                    lrow[j] = acol[j];
                    j += 1;
                    continue;
                }
                let u = s.col_term[s.q_sparse + j] as usize;
                let du = s.terms[u].d;
                for c in 0..du {
                    lrow[j + c] = (c..du).map(|k| acol[j + k] * lam[u][k + c * du]).sum();
                }
                j += du;
            }
        }
        for c in 0..d {
            let zc = &z.t.col_as_slice(level_first + c)[..upto];
            let v: f64 = lrow.iter().zip(zc).map(|(a, b)| a * b).sum();
            g[t][r + c * d] += v;
        }
    }
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
