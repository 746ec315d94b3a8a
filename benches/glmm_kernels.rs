//! Time one Laplace deviance+gradient, one AGQ(20) deviance+gradient and one whole fit of the
//! seed's heart-rate model, without Python: `cargo bench --bench glmm_kernels`.
//! Reads ../shared/data/HR.csv (skips with a message when absent).

use _core::terms::cluster::Clustered;
use _core::family::{Family, Link};
use _core::glmm::fit::{FitOptions, fit};
use _core::glmm::model::GlmmModel;
use _core::terms::remat::ReTemplate;
use std::time::Instant;

fn heart_rate() -> Option<(Vec<f64>, Vec<f64>, Vec<u32>, usize)> {
    let text = std::fs::read_to_string("../shared/data/HR.csv").ok()?;
    let mut rows = vec![];
    for line in text.lines().skip(1) {
        let f: Vec<String> = line.split(',').map(|s| s.trim_matches('"').to_string()).collect();
        rows.push(f);
    }
    let mut patients: Vec<String> = rows.iter().map(|r| r[0].clone()).collect();
    patients.sort();
    patients.dedup();
    let n = rows.len();
    let (mut y, mut x, mut g) = (vec![], vec![0.0; n * 6], vec![]);
    for (i, r) in rows.iter().enumerate() {
        let base: f64 = r[2].parse().ok()?;
        let hr: f64 = r[3].parse().ok()?;
        let t: f64 = r[4].parse().ok()?;
        let (b, p) = ((r[1] == "b") as u8 as f64, (r[1] == "p") as u8 as f64);
        y.push((hr > base) as u8 as f64);
        for (k, v) in [1.0, t, b, p, t * b, t * p].into_iter().enumerate() {
            x[i + k * n] = v;
        }
        g.push(patients.iter().position(|q| q == &r[0])? as u32);
    }
    Some((y, x, g, patients.len()))
}

fn median_us(mut f: impl FnMut(), reps: usize) -> f64 {
    f();
    let mut t: Vec<f64> = (0..reps)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[reps / 2]
}

fn main() {
    if let Some(k) = std::env::args().nth(1).and_then(|a| a.parse::<usize>().ok()) {
        // `cargo bench --bench glmm_kernels -- 100000`: one simulated data set, for profiling
        let mut model = simulated(k);
        for n_agq in [1usize, 10] {
            let t = median_us(|| drop(model.deviance(&[1.0], &[-0.5, 0.8], n_agq, true).unwrap()), 5);
            println!("{k} clusters ({} rows) deviance+gradient nAGQ={n_agq}: {:.1} ms", model.data.n, t / 1e3);
        }
        let opts = FitOptions { n_agq: 10, max_iter: 1000, theta0: None, beta0: None };
        let t = median_us(|| drop(fit(&mut model, &opts).unwrap()), 3);
        println!("fit nAGQ=10: {:.1} ms", t / 1e3);
        return;
    }
    let Some((y, x, g, m)) = heart_rate() else {
        eprintln!("../shared/data/HR.csv not found: skipping");
        return;
    };
    let n = y.len();
    let data = Clustered::new(&y, &vec![1.0; n], &vec![0.0; n], &x, 6, &vec![1.0; n], 1, &g, m, &vec![1.0; m]).unwrap();
    let mut model = GlmmModel::new(data, Family::Binomial, Link::Logit, ReTemplate::full(1)).unwrap();
    let (theta, beta) = ([2.246], [-0.528, -1.917, 0.868, -1.853, -0.211, -0.086]);
    println!("HR (120 rows, 24 clusters)");
    for n_agq in [1usize, 20] {
        let t = median_us(|| drop(model.deviance(&theta, &beta, n_agq, true).unwrap()), 2000);
        println!("  deviance+gradient nAGQ={n_agq:<2}  {t:8.2} µs");
    }
    for n_agq in [1usize, 20, 0] {
        let opts = FitOptions { n_agq, max_iter: 1000, theta0: None, beta0: None };
        let mut evals = 0;
        let t = median_us(|| evals = fit(&mut model, &opts).unwrap().evaluations, 200);
        println!("  fit nAGQ={n_agq:<2}                {t:8.2} µs ({evals} evaluations)");
    }
}

/// Simulated logistic random-intercept data: `n_clusters` clusters of 3–10 rows.
pub fn simulated(n_clusters: usize) -> GlmmModel {
    let mut state = 12345u64;
    let mut unif = move || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((state >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    let (mut y, mut x1, mut g) = (vec![], vec![], vec![]);
    for c in 0..n_clusters {
        let b = (-2.0 * unif().ln()).sqrt() * (2.0 * std::f64::consts::PI * unif()).cos();
        for _ in 0..(3 + (unif() * 8.0) as usize) {
            let x = unif() * 2.0 - 1.0;
            let eta: f64 = -0.5 + 0.8 * x + b;
            y.push((unif() < 1.0 / (1.0 + (-eta).exp())) as u8 as f64);
            x1.push(x);
            g.push(c as u32);
        }
    }
    let n = y.len();
    let mut x = vec![1.0; n];
    x.extend_from_slice(&x1);
    let data = Clustered::new(&y, &vec![1.0; n], &vec![0.0; n], &x, 2, &vec![1.0; n], 1, &g, n_clusters, &vec![1.0; n_clusters]).unwrap();
    GlmmModel::new(data, Family::Binomial, Link::Logit, ReTemplate::full(1)).unwrap()
}
