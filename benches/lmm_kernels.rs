//! Time the pieces of one evaluation of the lmer criterion on an InstEval-sized crossed design
//! (73,421 rows, 2,972 students × 1,128 lecturers, 28 department:service cells; simulated, so
//! no data files are needed), without Python: `cargo bench --bench lmm_kernels`.
//! Reports the minimum over repeats (robust to other load on the machine).

use _core::terms::blocked::ReTermData;
use _core::lmm::model::LmmModel;
use _core::lmm::fit::{LmmFitOptions, fit};
use std::time::Instant;

fn instevalish() -> (Vec<f64>, Vec<f64>, Vec<f64>, Vec<ReTermData>) {
    let (n_s, n_d, n_ds) = (2972usize, 1128usize, 28usize);
    let mut state = 12345u64;
    let mut rnd = move || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((state >> 11) as f64) / ((1u64 << 53) as f64)
    };
    let dept: Vec<u32> = (0..n_d).map(|_| (rnd() * 14.0) as u32).collect();
    let (mut s, mut d, mut ds, mut y, mut svc) = (vec![], vec![], vec![], vec![], vec![]);
    let eff_s: Vec<f64> = (0..n_s).map(|_| rnd() - 0.5).collect();
    let eff_d: Vec<f64> = (0..n_d).map(|_| 1.5 * (rnd() - 0.5)).collect();
    for st in 0..n_s {
        let k = 5 + (rnd() * 40.0) as usize;
        for _ in 0..k {
            let lec = (rnd() * rnd() * n_d as f64) as usize;
            let service = (rnd() < 0.4) as u32;
            s.push(st as u32);
            d.push(lec as u32);
            ds.push(dept[lec] * 2 + service);
            svc.push(service as f64);
            y.push((3.0 + eff_s[st] + eff_d[lec] + 1.2 * (rnd() - 0.5)).round().clamp(1.0, 5.0));
            if y.len() >= 73_421 {
                break;
            }
        }
    }
    let n = y.len();
    let one = vec![1.0; n];
    let x: Vec<f64> = one.iter().copied().chain(svc).collect();
    let terms = vec![
        ReTermData { codes: s, n_levels: n_s, d: 1, z: one.clone() },
        ReTermData { codes: d, n_levels: n_d, d: 1, z: one.clone() },
        ReTermData { codes: ds, n_levels: n_ds, d: 1, z: one.clone() },
    ];
    (y, vec![1.0; n], x, terms)
}

fn min_ms(mut f: impl FnMut(), reps: usize) -> f64 {
    f();
    (0..reps).map(|_| {
        let t = Instant::now();
        f();
        t.elapsed().as_secs_f64() * 1e3
    }).fold(f64::INFINITY, f64::min)
}

fn main() {
    let (y, w, x, terms) = instevalish();
    let t = Instant::now();
    let mut model = LmmModel::new(&y, &w, &x, 2, terms, false).unwrap();
    println!("rows {}, setup (symbolic + cross-products) {:.1} ms, dense block {}", y.len(), t.elapsed().as_secs_f64() * 1e3, model.structure.n_t);
    let theta = [0.3, 0.45, 0.1];
    println!("objective (assemble + factor + solve)  {:8.2} ms", min_ms(|| model.set_theta(&theta).unwrap(), 10));
    model.set_theta(&theta).unwrap();
    let (st, lam) = (model.structure.clone(), model.lambda().to_vec());
    let (l, a) = (model.factor_values().clone(), model.cross_products().clone());
    let mut c = l.clone();
    println!("  assemble C(θ)                         {:8.2} ms", min_ms(|| _core::terms::blocked_factor::assemble(&st, &a, &lam, &mut c), 10));
    println!("  assemble + factor (sparse and dense)  {:8.2} ms", min_ms(|| { _core::terms::blocked_factor::assemble(&st, &a, &lam, &mut c); _core::terms::blocked_factor::factor(&st, &mut c).unwrap(); }, 10));
    println!("gradient (selected inverse + traces)   {:8.2} ms", min_ms(|| { model.gradient(); }, 10));
    let mut z = l.clone();
    let upto = st.q - st.q_sparse;
    println!("  dense inverse + sparse selected inverse {:8.2} ms", min_ms(|| _core::terms::selected_inverse::selected_inverse(&st, &l, upto, &mut z), 10));
    {
        use faer::dyn_stack::{MemBuffer, MemStack};
        let par = if rayon::current_num_threads() > 1 { faer::Par::rayon(rayon::current_num_threads()) } else { faer::Par::Seq };
        let mut mem = MemBuffer::new(faer::linalg::cholesky::llt::inverse::inverse_scratch::<f64>(upto, par));
        let mut out = faer::Mat::<f64>::zeros(upto, upto);
        println!("    of which the dense inverse ({upto})       {:8.2} ms", min_ms(|| faer::linalg::cholesky::llt::inverse::inverse(out.as_mut(), l.t.as_ref().submatrix(0, 0, upto, upto), par, MemStack::new(&mut mem)), 10));
        println!("    and its symmetrisation                {:8.2} ms", min_ms(|| _core::terms::blocked_factor::symmetrize(out.as_mut()), 10));
    }
    println!("  trace sums                              {:8.2} ms", min_ms(|| { _core::terms::selected_inverse::trace_sums(&st, &a, &z, &lam, upto); }, 10));
    let g = model.gradient();
    println!("average information                    {:8.2} ms", min_ms(|| { model.average_information(&g); }, 10));
    let mut r = faer::Mat::<f64>::from_fn(st.q + 2, 3, |i, j| ((i * 7 + j) % 13) as f64);
    println!("  of which one 3-column solve           {:8.2} ms", min_ms(|| _core::terms::blocked_factor::solve_columns(&st, &l, &mut r), 10));
    let ms = min_ms(|| { fit(&mut model, &LmmFitOptions { max_iter: 100, theta0: None }).unwrap(); }, 3);
    let f = fit(&mut model, &LmmFitOptions { max_iter: 100, theta0: None }).unwrap();
    println!("whole ML fit                           {:8.2} ms ({} evaluations, {})", ms, f.evaluations, f.message);
}
