//! The selected inverse Z = C⁻¹ on the pattern of the blocked Cholesky factor L
//! (Takahashi, Fagan & Chen 1973; Erisman & Tinney 1975), and the trace sums of the
//! log-determinant's gradient built from it. Blocks are processed backwards:
//! Q = L_RJ L_JJ⁻¹, Z_RJ = −Z_RR Q, Z_JJ = (L_JJ L_JJᵀ)⁻¹ + Qᵀ Z_RR Q, with Z_RR gathered from
//! the blocks below (and the dense inverse of T); blocks that feed no other sparse block are
//! independent and run in parallel.

use crate::error::Result;
use crate::numerics::{cancel, governor};
use crate::terms::blocked::Structure;
use crate::terms::blocked_factor::{BlockValues, dense_par, symmetrize};
use crate::terms::dense_panels;
use faer::linalg::triangular_solve::{solve_lower_triangular_in_place, solve_upper_triangular_in_place};
use faer::{Mat, MatMut, MatRef, Par};

/// Z = C⁻¹ restricted to the first `upto` columns of T (the random effects of the dense
/// terms, and the extras up to `upto`) and the sparse part, on the pattern of L. With
/// `upto = q_T` this is M⁻¹ = (ΛᵀZᵀWZΛ + I)⁻¹; with `upto = q_T + p`, the full C⁻¹.
pub fn selected_inverse(s: &Structure, l: &BlockValues, upto: usize, z: &mut BlockValues) -> Result<()> {
    if upto > 0 {
        let mut out = z.t.as_mut().submatrix_mut(0, 0, upto, upto);
        dense_panels::inverse(out.as_mut(), l.t.as_ref().submatrix(0, 0, upto, upto), dense_par(upto))?;
        symmetrize(out);
    }
    let cutoff = (s.q_sparse + upto) as u32;
    let nb = s.n_sparse_blocks();
    // no sparse block feeds another: the blocks are independent given Z_T
    let independent = s.targets.is_empty() && crate::numerics::par::threads() > 1 && s.val_ptr[nb] >= PARALLEL_BLOCK_WORK;
    if !independent {
        return blocks_in_order(s, l, cutoff, z);
    }
    governor::governed(nb, |spread| if spread { blocks_in_parallel(s, l, cutoff, z) } else { blocks_in_order(s, l, cutoff, z) })
}

/// The sparse blocks of the selected inverse at once, over threads (they are independent).
fn blocks_in_parallel(s: &Structure, l: &BlockValues, cutoff: u32, z: &mut BlockValues) -> Result<()> {
    use rayon::prelude::*;
    let nb = s.n_sparse_blocks();
    let BlockValues { diag, below, t } = z;
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
    let token = cancel::current();
    diag_parts.into_par_iter().zip(below_parts).enumerate().try_for_each_init(SelinvScratch::default, |sc, (b, (zd, zb))| {
        token.check()?;
        selinv_block(s, l, b, cutoff, |nk, out| gather_dense(s, t, b, nk, out), zd, zb, sc);
        Ok(())
    })
}

/// The sparse blocks of the selected inverse backwards, one after another.
fn blocks_in_order(s: &Structure, l: &BlockValues, cutoff: u32, z: &mut BlockValues) -> Result<()> {
    let nb = s.n_sparse_blocks();
    let BlockValues { diag, below, t } = z;
    let mut sc = SelinvScratch::default();
    // one look at the token per block (an atomic load): a block that gathers rows of a large
    // dense part of the inverse takes milliseconds
    let token = cancel::current();
    for b in (0..nb).rev() {
        token.check()?;
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
    Ok(())
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
    scalar_trace_sums(s, z, lam).unwrap_or_else(|| general_trace_sums(s, a, z, lam, upto))
}

/// `trace_sums` from the selected inverse on the whole pattern of L (any terms).
fn general_trace_sums(s: &Structure, a: &BlockValues, z: &BlockValues, lam: &[Vec<f64>], upto: usize) -> Vec<Vec<f64>> {
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

/// Smallest θ of a scalar term for which `scalar_trace_sums` is used.
const SCALAR_TRACE_MIN_THETA: f64 = 1e-2;

/// `trace_sums` when every term is scalar (d = 1) with θ at least `SCALAR_TRACE_MIN_THETA`:
/// then Λ̃ is diagonal, θₜ on term t's columns, and Λ̃ᵀAΛ̃ = C − D (D the identity on the
/// random effects), so θₜ(AΛ̃Z)ⱼⱼ = ((C − D)C⁻¹)ⱼⱼ = 1 − Zⱼⱼ for each column j of term t:
/// Gₜ = Σⱼ (1 − Zⱼⱼ)/θₜ needs only the diagonal of the selected inverse. (1 − Zⱼⱼ is O(θₜ²):
/// for small θₜ it loses digits, hence the threshold.) None otherwise.
fn scalar_trace_sums(s: &Structure, z: &BlockValues, lam: &[Vec<f64>]) -> Option<Vec<Vec<f64>>> {
    if s.terms.iter().zip(lam).any(|(l, lam)| l.d != 1 || lam[0] < SCALAR_TRACE_MIN_THETA) {
        return None;
    }
    let mut g: Vec<Vec<f64>> = vec![vec![0.0]; s.terms.len()];
    for b in 0..s.n_sparse_blocks() {
        g[s.block(b).0][0] += 1.0 - z.diag_block(s, b)[0];
    }
    for j in s.q_sparse..s.q {
        let i = s.t_index(j);
        g[s.col_term[j] as usize][0] += 1.0 - z.t[(i, i)];
    }
    g.iter_mut().zip(lam).for_each(|(gt, lam)| gt[0] /= lam[0]);
    Some(g)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lmm::model::LmmModel;

    #[test]
    fn scalar_trace_sums_match_the_general_ones() {
        // (1 | g:k) nested in (1 | g), crossed with (1 | h): scalar terms, sparse and dense parts
        let (y, w, x, p, mut terms) = crate::lmm::model::tests::design(7);
        terms[1] = crate::terms::blocked::ReTermData { d: 1, z: vec![1.0; y.len()], ..terms[1].clone() };
        for reml in [false, true] {
            let mut model = LmmModel::new(&y, &w, &x, p, terms.clone(), reml).unwrap();
            model.set_theta(&[0.7, 0.05, 1.3]).unwrap();
            let s = model.structure.clone();
            let upto = s.q - s.q_sparse + if reml { p } else { 0 };
            let mut z = model.factor_values().clone();
            selected_inverse(&s, model.factor_values(), upto, &mut z).unwrap();
            let (a, lam) = (model.cross_products(), model.lambda());
            let fast = scalar_trace_sums(&s, &z, lam).expect("all terms scalar, θ clear of 0");
            let full = general_trace_sums(&s, a, &z, lam, upto);
            for (f, g) in fast.iter().zip(&full) {
                assert!((f[0] - g[0]).abs() < 1e-9 * (1.0 + g[0].abs()), "reml={reml}: {fast:?} vs {full:?}");
            }
        }
    }
}
