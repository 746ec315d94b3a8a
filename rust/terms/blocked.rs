//! The block structure of the penalised least-squares system of a mixed model with any number
//! of random-effects terms (Bates et al. 2015, §3; MixedModels.jl's blocked Cholesky).
//!
//! Columns are ordered term by term (lme4's order: terms with more levels first), level by
//! level within a term, then `extra` dense columns (X and y for lmer). The leading terms whose
//! levels stay uncoupled after eliminating the terms before them — the first term always, and
//! terms nested in it, such as `(1 | a:b) + (1 | a)` — form the *sparse part*: each level is a
//! d × d diagonal block with a sparse column below it (a supernode per level). Everything after
//! (crossed terms, whose Schur complement fills in, and the extra columns) is one dense block
//! T. This is a supernodal Cholesky with a fixed ordering: the first term's levels are
//! eliminated first, exactly as CHOLMOD's fill-reducing ordering would do for the crossed
//! designs lme4 fits (InstEval: students before lecturers).
//!
//! The symbolic analysis here runs once per model; `blocked_factor` does the numbers.

use crate::error::{Error, Result};

/// Largest dense block T (its factor, inverse and cross-products are held as n × n matrices:
/// three of 8000² doubles are 1.5 GB).
pub const MAX_DENSE: usize = 8000;

/// One random-effects term's data: a level code per row and its d columns of Z.
#[derive(Clone, Debug)]
pub struct ReTermData {
    pub codes: Vec<u32>,
    pub n_levels: usize,
    pub d: usize,
    /// Z columns, row-major n × d
    pub z: Vec<f64>,
}

/// Where a term's columns sit.
#[derive(Clone, Debug)]
pub struct TermLayout {
    pub d: usize,
    pub n_levels: usize,
    /// global index of its first column
    pub start: usize,
    /// index of its first level block
    pub first_block: usize,
    /// index of its first θ
    pub theta_start: usize,
}

impl TermLayout {
    /// Number of θ of a full lower-triangular d × d relative covariance factor.
    pub fn n_theta(&self) -> usize {
        self.d * (self.d + 1) / 2
    }
}

/// Where block `k` of the sparse part is updated when a block above it is eliminated: the
/// rows `first..first + d_k` of the eliminated block's pattern are block `k`'s own columns;
/// the rows after them sit at `rel[rel_start..]` in block `k`'s pattern.
#[derive(Clone, Copy, Debug)]
pub struct Target {
    pub block: u32,
    pub first: u32,
    pub rel_start: usize,
}

/// The symbolic factorisation: which block is sparse or dense, and every sparse column's rows.
#[derive(Clone, Debug)]
pub struct Structure {
    pub terms: Vec<TermLayout>,
    /// random-effects columns
    pub q: usize,
    /// terms in the sparse part (the first `n_sparse_terms`)
    pub n_sparse_terms: usize,
    /// columns of the sparse part
    pub q_sparse: usize,
    /// dense columns after the random effects; the last one is the right-hand side
    pub extra: usize,
    /// size of the dense block T: random-effects columns of the dense terms, then the extras
    pub n_t: usize,
    /// term of each global random-effects column
    pub col_term: Vec<u32>,
    /// rows (global indices, ascending) of sparse block b: `rows[row_ptr[b]..row_ptr[b+1]]`
    pub row_ptr: Vec<usize>,
    pub rows: Vec<u32>,
    /// how many of block b's rows are in the sparse part (they come first)
    pub n_sparse_rows: Vec<u32>,
    /// offsets of block b's d × d diagonal and |rows| × d column values
    pub diag_ptr: Vec<usize>,
    pub val_ptr: Vec<usize>,
    /// sparse blocks updated by eliminating block b: `targets[target_ptr[b]..target_ptr[b+1]]`
    pub target_ptr: Vec<usize>,
    pub targets: Vec<Target>,
    pub rel: Vec<u32>,
}

/// Level codes sorted: `order[start[l]..start[l+1]]` are the rows of level l.
fn rows_by_level(codes: &[u32], n_levels: usize) -> (Vec<usize>, Vec<usize>) {
    let mut start = vec![0usize; n_levels + 1];
    for &c in codes {
        start[c as usize + 1] += 1;
    }
    for l in 0..n_levels {
        start[l + 1] += start[l];
    }
    let mut next = start.clone();
    let mut order = vec![0usize; codes.len()];
    for (i, &c) in codes.iter().enumerate() {
        order[next[c as usize]] = i;
        next[c as usize] += 1;
    }
    (start, order)
}

/// Sorted union of two ascending lists.
fn union(a: &[u32], b: &[u32]) -> Vec<u32> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        let take_a = j == b.len() || (i < a.len() && a[i] <= b[j]);
        let v = if take_a { a[i] } else { b[j] };
        if take_a {
            i += 1;
        }
        if j < b.len() && b[j] == v {
            j += 1;
        }
        out.push(v);
    }
    out
}

impl Structure {
    /// Analyse the terms (in lme4's order) of a model with `n` rows and `extra` dense columns.
    pub fn new(terms: &[ReTermData], n: usize, extra: usize) -> Result<Self> {
        if terms.is_empty() {
            return Err(Error::bad_input("a mixed model needs at least one random-effects term"));
        }
        let mut layout = Vec::with_capacity(terms.len());
        let (mut start, mut block, mut theta) = (0, 0, 0);
        for (k, t) in terms.iter().enumerate() {
            if t.codes.len() != n || t.z.len() != n * t.d || t.d == 0 {
                return Err(Error::bad_input(format!("random-effects term {k}: codes or Z have the wrong size")));
            }
            if let Some(&c) = t.codes.iter().find(|&&c| c as usize >= t.n_levels) {
                return Err(Error::bad_input(format!("random-effects term {k}: level code {c} is not below {}", t.n_levels)));
            }
            let l = TermLayout { d: t.d, n_levels: t.n_levels, start, first_block: block, theta_start: theta };
            start += t.d * t.n_levels;
            block += t.n_levels;
            theta += l.n_theta();
            layout.push(l);
        }
        let q = start;
        let mut col_term = vec![0u32; q];
        for (k, l) in layout.iter().enumerate() {
            col_term[l.start..l.start + l.d * l.n_levels].fill(k as u32);
        }
        let block_term: Vec<usize> = layout.iter().enumerate().flat_map(|(k, l)| std::iter::repeat(k).take(l.n_levels)).collect();
        let init = initial_patterns(terms, &layout, block);
        let (n_sparse_terms, patterns) = close_patterns(&layout, &block_term, init);
        let q_sparse = layout.get(n_sparse_terms).map_or(q, |l| l.start);
        if q - q_sparse + extra > MAX_DENSE {
            return Err(Error::bad_input(format!(
                "the random-effects terms crossed with the first (largest) one need a dense block of {} columns \
                 (their levels and the fixed effects); glmmx handles up to {MAX_DENSE}: this design has too many \
                 levels in its crossed grouping factors",
                q - q_sparse + extra
            )));
        }
        let mut s = Structure {
            q,
            n_sparse_terms,
            q_sparse,
            extra,
            n_t: q - q_sparse + extra,
            col_term,
            row_ptr: vec![0],
            rows: Vec::new(),
            n_sparse_rows: Vec::new(),
            diag_ptr: vec![0],
            val_ptr: vec![0],
            target_ptr: vec![0],
            targets: Vec::new(),
            rel: Vec::new(),
            terms: layout,
        };
        s.scalar_rows(&patterns, &block_term);
        s.update_targets()?;
        Ok(s)
    }

    /// Number of blocks in the sparse part.
    pub fn n_sparse_blocks(&self) -> usize {
        self.row_ptr.len() - 1
    }

    /// Term, level and d of sparse block b.
    pub fn block(&self, b: usize) -> (usize, usize, usize) {
        let t = self.terms[..self.n_sparse_terms].partition_point(|l| l.first_block <= b) - 1;
        let l = &self.terms[t];
        (t, b - l.first_block, l.d)
    }

    /// Global index of the first column of sparse block b.
    pub fn block_start(&self, b: usize) -> usize {
        let (t, level, d) = self.block(b);
        self.terms[t].start + level * d
    }

    /// Rows of sparse block b.
    pub fn block_rows(&self, b: usize) -> &[u32] {
        &self.rows[self.row_ptr[b]..self.row_ptr[b + 1]]
    }

    /// Number of θ.
    pub fn n_theta(&self) -> usize {
        self.terms.iter().map(|t| t.n_theta()).sum()
    }

    /// Lower bounds of θ: 0 on the diagonal of each Λ, −∞ below it.
    pub fn theta_lower(&self) -> Vec<f64> {
        self.terms.iter().flat_map(|t| (0..t.d).flat_map(move |c| (c..t.d).map(move |r| if r == c { 0.0 } else { f64::NEG_INFINITY }))).collect()
    }

    /// lme4's start: every Λ the identity.
    pub fn theta_start(&self) -> Vec<f64> {
        self.theta_lower().iter().map(|&l| if l == 0.0 { 1.0 } else { 0.0 }).collect()
    }

    /// Λ of each term from θ (`remat::lambda_of`), which must hold `n_theta` finite values.
    pub fn lambda(&self, theta: &[f64]) -> Result<Vec<Vec<f64>>> {
        if theta.len() != self.n_theta() || theta.iter().any(|v| !v.is_finite()) {
            return Err(Error::bad_input(format!("theta needs {} finite values", self.n_theta())));
        }
        Ok(crate::terms::remat::lambda_of(self.terms.iter().map(|t| t.d), theta))
    }

    /// Index in T of a global column (random effects of dense terms, then extras).
    #[inline]
    pub fn t_index(&self, global: usize) -> usize {
        global - self.q_sparse
    }

    /// Expand each block pattern (later level blocks) to scalar rows, extras appended.
    fn scalar_rows(&mut self, patterns: &[Vec<u32>], block_term: &[usize]) {
        for (b, pat) in patterns.iter().enumerate() {
            let d = self.terms[block_term[b]].d;
            let mut n_sparse = 0;
            for &h in pat {
                let t = &self.terms[block_term[h as usize]];
                let first = t.start + (h as usize - t.first_block) * t.d;
                self.rows.extend((first..first + t.d).map(|r| r as u32));
                if first < self.q_sparse {
                    n_sparse += t.d;
                }
            }
            self.rows.extend((self.q..self.q + self.extra).map(|r| r as u32));
            self.row_ptr.push(self.rows.len());
            self.n_sparse_rows.push(n_sparse as u32);
            let nr = self.row_ptr[b + 1] - self.row_ptr[b];
            self.diag_ptr.push(self.diag_ptr[b] + d * d);
            self.val_ptr.push(self.val_ptr[b] + nr * d);
        }
    }

    /// Sparse block holding global column `g` (which must be in the sparse part).
    pub fn block_of(&self, g: usize) -> usize {
        let l = &self.terms[self.col_term[g] as usize];
        l.first_block + (g - l.start) / l.d
    }

    /// For every sparse block, the sparse blocks its elimination updates and where.
    fn update_targets(&mut self) -> Result<()> {
        for b in 0..self.n_sparse_blocks() {
            let rows = self.block_rows(b).to_vec();
            let ns = self.n_sparse_rows[b] as usize;
            let mut i = 0;
            while i < ns {
                let k = self.block_of(rows[i] as usize);
                let dk = self.block(k).2;
                let rel_start = self.rel.len();
                let krows = self.block_rows(k);
                let pos: Vec<u32> = rows[i + dk..]
                    .iter()
                    .map(|r| krows.binary_search(r).map(|p| p as u32).map_err(|_| Error::bad_input("internal: sparse pattern is not closed under elimination")))
                    .collect::<Result<_>>()?;
                self.rel.extend(pos);
                self.targets.push(Target { block: k as u32, first: i as u32, rel_start });
                i += dk;
            }
            self.target_ptr.push(self.targets.len());
        }
        Ok(())
    }
}

/// For each level block of each term, the blocks of later terms that share a row with it.
fn initial_patterns(terms: &[ReTermData], layout: &[TermLayout], n_blocks: usize) -> Vec<Vec<u32>> {
    let mut out = vec![Vec::new(); n_blocks];
    let mut mark = vec![false; n_blocks];
    for (t, term) in terms.iter().enumerate().take(terms.len() - 1) {
        let (start, order) = rows_by_level(&term.codes, term.n_levels);
        for level in 0..term.n_levels {
            let mut list = Vec::new();
            for &i in &order[start[level]..start[level + 1]] {
                for (u, later) in terms.iter().enumerate().skip(t + 1) {
                    let h = layout[u].first_block + later.codes[i] as usize;
                    if !mark[h] {
                        mark[h] = true;
                        list.push(h as u32);
                    }
                }
            }
            list.iter().for_each(|&h| mark[h as usize] = false);
            list.sort_unstable();
            out[layout[t].first_block + level] = list;
        }
    }
    out
}

/// Close the patterns under elimination (the pattern of a block's first later row — its
/// parent in the elimination tree — absorbs the rest of the block's pattern), term by term,
/// stopping at the first term whose levels are coupled by an earlier elimination: that term
/// and all later ones are dense. Returns the number of sparse terms and their block patterns.
fn close_patterns(layout: &[TermLayout], block_term: &[usize], mut pattern: Vec<Vec<u32>>) -> (usize, Vec<Vec<u32>>) {
    let mut pushed: Vec<Vec<u32>> = vec![Vec::new(); pattern.len()];
    let mut n_sparse = layout.len();
    for (t, l) in layout.iter().enumerate() {
        let done = l.first_block;
        if t > 0 && pattern[..done].iter().any(|p| p.iter().filter(|&&h| block_term[h as usize] == t).nth(1).is_some()) {
            n_sparse = t;
            break;
        }
        for b in done..done + l.n_levels {
            let own = std::mem::take(&mut pushed[b]);
            pattern[b] = union(&pattern[b], &own);
            if let Some((&parent, rest)) = pattern[b].split_first() {
                let merged = union(&pushed[parent as usize], rest);
                pushed[parent as usize] = merged;
            }
        }
    }
    let n_blocks = layout.get(n_sparse).map_or(pattern.len(), |l| l.first_block);
    pattern.truncate(n_blocks);
    (n_sparse, pattern)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn term(codes: &[u32], n_levels: usize) -> ReTermData {
        ReTermData { codes: codes.to_vec(), n_levels, d: 1, z: vec![1.0; codes.len()] }
    }

    #[test]
    fn nested_terms_stay_sparse_and_crossed_terms_go_dense() {
        // class (4 levels) nested in school (2 levels)
        let class = term(&[0, 0, 1, 1, 2, 2, 3, 3], 4);
        let school = term(&[0, 0, 0, 0, 1, 1, 1, 1], 2);
        let s = Structure::new(&[class.clone(), school.clone()], 8, 2).unwrap();
        assert_eq!((s.n_sparse_terms, s.q_sparse, s.n_t), (2, 6, 2));
        assert_eq!(s.block_rows(0), &[4, 6, 7]);
        assert_eq!(s.block_rows(4), &[6, 7]);
        // a crossed factor: rows of level 0 of the first term meet two levels of the second
        let crossed = term(&[0, 1, 0, 1, 0, 1, 0, 1], 2);
        let s = Structure::new(&[class, crossed], 8, 2).unwrap();
        assert_eq!((s.n_sparse_terms, s.q_sparse, s.n_t), (1, 4, 4));
        assert_eq!(s.block_rows(0), &[4, 5, 6, 7]);
    }

    #[test]
    fn fill_is_closed_under_elimination() {
        // three nested levels: a:b:c (4), a:b (2), a (1), and the parents absorb the patterns
        let abc = term(&[0, 1, 2, 3], 4);
        let ab = term(&[0, 0, 1, 1], 2);
        let a = term(&[0, 0, 0, 0], 1);
        let s = Structure::new(&[abc, ab, a], 4, 1).unwrap();
        assert_eq!(s.n_sparse_terms, 3);
        assert_eq!(s.block_rows(0), &[4, 6, 7]);
        assert_eq!(s.block_rows(4), &[6, 7]);
        assert_eq!(s.block_rows(6), &[7]);
        assert_eq!(s.targets.len(), 4 * 2 + 2);
    }
}
