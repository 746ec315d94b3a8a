//! Ordinal and nominal mixed models with a nonparametric mass-point random-effects
//! distribution (mixcat's `npmlt`; Papageorgiou & Hinde 2012): data by cluster (`data`),
//! the category likelihood (`lik`), the mixture model (`model`), the EM + Newton fit (`fit`),
//! the normal random-effects variant by adaptive quadrature (`normal`), the ridge for points
//! running off (`ridge`), standard errors (`se`) and replicates (`refit`).
//!
//! May import: `error`, `numerics`, `batch`.

pub mod data;
pub mod fit;
pub mod lik;
pub mod model;
pub mod normal;
pub mod refit;
pub mod ridge;
pub mod se;
