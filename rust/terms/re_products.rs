//! Products with the random-effects model matrix Z and the relative covariance factor Λ of
//! any number of random-effects terms (columns in global order: term by term, level by level,
//! d per level). Z is held as a level code and d values per row and term; Λ is block
//! diagonal with one d × d lower-triangular block (column-major) per term, repeated for each
//! of its levels.

use crate::terms::blocked::{ReTermData, TermLayout};

/// `scale`·ΛBΛᵀ for the d × d block B of every level (column-major, global order): the
/// conditional covariances of b = Λu from those of u.
pub fn lambda_blocks(layouts: &[TermLayout], lambda: &[Vec<f64>], blocks: &[f64], scale: f64) -> Vec<f64> {
    let mut out = Vec::with_capacity(blocks.len());
    let mut k = 0;
    for (t, lam) in layouts.iter().zip(lambda) {
        let d = t.d;
        for _ in 0..t.n_levels {
            let blk = &blocks[k..k + d * d];
            for c in 0..d {
                for r in 0..d {
                    let v: f64 = (0..d).map(|i| (0..d).map(|j| lam[r + i * d] * blk[i + j * d] * lam[c + j * d]).sum::<f64>()).sum();
                    out.push(scale * v);
                }
            }
            k += d * d;
        }
    }
    out
}

/// b = Λu.
pub fn lambda_times(layouts: &[TermLayout], lambda: &[Vec<f64>], u: &[f64]) -> Vec<f64> {
    let mut b = vec![0.0; u.len()];
    for (l, lam) in layouts.iter().zip(lambda) {
        let (d, range) = (l.d, l.start..l.start + l.d * l.n_levels);
        if d == 1 {
            b[range.clone()].iter_mut().zip(&u[range]).for_each(|(b, u)| *b = lam[0] * u);
            continue;
        }
        for o in range.step_by(d) {
            for r in 0..d {
                b[o + r] = (0..=r).map(|c| lam[r + c * d] * u[o + c]).sum();
            }
        }
    }
    b
}

/// Λᵀv.
pub fn lambda_t_times(layouts: &[TermLayout], lambda: &[Vec<f64>], v: &[f64]) -> Vec<f64> {
    let mut out = vec![0.0; v.len()];
    for (l, lam) in layouts.iter().zip(lambda) {
        let (d, range) = (l.d, l.start..l.start + l.d * l.n_levels);
        if d == 1 {
            out[range.clone()].iter_mut().zip(&v[range]).for_each(|(o, v)| *o = lam[0] * v);
            continue;
        }
        for o in range.step_by(d) {
            for c in 0..d {
                out[o + c] = (c..d).map(|r| lam[r + c * d] * v[o + r]).sum();
            }
        }
    }
    out
}

/// out += Zb (b in global order; `terms` and `layouts` may be any matching subset).
pub fn add_z_times(terms: &[ReTermData], layouts: &[TermLayout], b: &[f64], out: &mut [f64]) {
    for (t, l) in terms.iter().zip(layouts) {
        let bt = &b[l.start..l.start + l.d * l.n_levels];
        if t.d == 1 {
            out.iter_mut().zip(&t.codes).zip(&t.z).for_each(|((o, &c), z)| *o += z * bt[c as usize]);
            continue;
        }
        let d = t.d;
        for (i, (o, &c)) in out.iter_mut().zip(&t.codes).enumerate() {
            let bl = &bt[c as usize * d..(c as usize + 1) * d];
            *o += t.z[i * d..(i + 1) * d].iter().zip(bl).map(|(z, b)| z * b).sum::<f64>();
        }
    }
}

/// out += Zᵀv (out in global order, of length q).
pub fn add_zt_times(terms: &[ReTermData], layouts: &[TermLayout], v: &[f64], out: &mut [f64]) {
    for (t, l) in terms.iter().zip(layouts) {
        let ot = &mut out[l.start..l.start + l.d * l.n_levels];
        if t.d == 1 {
            t.codes.iter().zip(&t.z).zip(v).for_each(|((&c, z), v)| ot[c as usize] += z * v);
            continue;
        }
        let d = t.d;
        for (i, (&c, v)) in t.codes.iter().zip(v).enumerate() {
            let ol = &mut ot[c as usize * d..(c as usize + 1) * d];
            ol.iter_mut().zip(&t.z[i * d..(i + 1) * d]).for_each(|(o, z)| *o += z * v);
        }
    }
}

/// Zᵀv.
pub fn zt_times(terms: &[ReTermData], layouts: &[TermLayout], q: usize, v: &[f64]) -> Vec<f64> {
    let mut out = vec![0.0; q];
    add_zt_times(terms, layouts, v, &mut out);
    out
}

/// out += Xβ for row-major n × p rows `x` (n = out.len(); nothing to add when p = 0).
pub fn add_x_times(x: &[f64], p: usize, beta: &[f64], out: &mut [f64]) {
    if p == 0 {
        return;
    }
    out.iter_mut().zip(x.chunks_exact(p)).for_each(|(o, row)| *o += row.iter().zip(beta).map(|(x, b)| x * b).sum::<f64>());
}

/// Xᵀv for row-major n × p rows `x`.
pub fn xt_times(x: &[f64], p: usize, v: &[f64]) -> Vec<f64> {
    let mut out = vec![0.0; p];
    if p == 0 {
        return out;
    }
    for (row, v) in x.chunks_exact(p).zip(v) {
        out.iter_mut().zip(row).for_each(|(o, x)| *o += x * v);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::terms::blocked::Structure;

    #[test]
    fn products_match_a_dense_z() {
        // (1 + x | g) with 3 levels and (1 | h) with 2, on 5 rows
        let xv = [0.5, -1.0, 2.0, 0.0, 1.5];
        let g = ReTermData { codes: vec![0, 1, 2, 0, 1], n_levels: 3, d: 2, z: xv.iter().flat_map(|&x| [1.0, x]).collect() };
        let h = ReTermData { codes: vec![1, 0, 0, 1, 1], n_levels: 2, d: 1, z: vec![1.0, 2.0, 1.0, 0.5, 1.0] };
        let terms = vec![g, h];
        let s = Structure::new(&terms, 5, 1).unwrap();
        let q = s.q;
        let mut zd = vec![vec![0.0; q]; 5];
        for (t, l) in terms.iter().zip(&s.terms) {
            for i in 0..5 {
                for r in 0..t.d {
                    zd[i][l.start + t.codes[i] as usize * t.d + r] = t.z[i * t.d + r];
                }
            }
        }
        let b: Vec<f64> = (0..q).map(|j| 0.3 * j as f64 - 0.7).collect();
        let v = [1.0, -2.0, 0.5, 3.0, -1.0];
        let mut zb = vec![0.0; 5];
        add_z_times(&terms, &s.terms, &b, &mut zb);
        let ztv = zt_times(&terms, &s.terms, q, &v);
        for i in 0..5 {
            assert!((zb[i] - (0..q).map(|j| zd[i][j] * b[j]).sum::<f64>()).abs() < 1e-12);
        }
        for j in 0..q {
            assert!((ztv[j] - (0..5).map(|i| zd[i][j] * v[i]).sum::<f64>()).abs() < 1e-12);
        }
        // Λ: [[0.8, 0], [0.3, 0.5]] for g, 1.7 for h; uᵀ(Λᵀv) = (Λu)ᵀv
        let lambda = vec![vec![0.8, 0.3, 0.0, 0.5], vec![1.7]];
        let (lu, ltv) = (lambda_times(&s.terms, &lambda, &b), lambda_t_times(&s.terms, &lambda, &ztv));
        let a: f64 = lu.iter().zip(&ztv).map(|(x, y)| x * y).sum();
        let c: f64 = b.iter().zip(&ltv).map(|(x, y)| x * y).sum();
        assert!((a - c).abs() < 1e-12);
        assert!((lu[1] - (0.3 * b[0] + 0.5 * b[1])).abs() < 1e-12 && (lu[6] - 1.7 * b[6]).abs() < 1e-12);
    }

    #[test]
    fn fixed_effects_products_with_and_without_columns() {
        let x = [1.0, 2.0, 1.0, -1.0, 1.0, 0.5]; // 3 rows × 2
        let mut out = vec![10.0; 3];
        add_x_times(&x, 2, &[0.5, 2.0], &mut out);
        assert_eq!(out, vec![14.5, 8.5, 11.5]);
        assert_eq!(xt_times(&x, 2, &[1.0, 1.0, 2.0]), vec![4.0, 2.0]);
        // no fixed effects (y ~ 0 + (1 | g)): nothing to add, n from the output
        let mut none = vec![3.0; 4];
        add_x_times(&[], 0, &[], &mut none);
        assert_eq!(none, vec![3.0; 4]);
        assert!(xt_times(&[], 0, &[1.0; 4]).is_empty());
    }
}
