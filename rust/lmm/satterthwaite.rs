//! What Satterthwaite's degrees of freedom need (Kuznetsova, Brockhoff & Christensen 2017,
//! §3; Satterthwaite 1946): at the estimates, the Hessian of the deviance in the
//! variance parameters φ = (θ, σ) and the derivatives of vcov(β̂) = σ²(RXᵀRX)⁻¹ in φ.
//!
//! With the deviance D(θ, σ) = log|M| [+ log|RX|²] + r²(θ)/σ² + n′·log(2πσ²) (n′ = n − p for
//! REML, n for ML; β profiled out), the σ derivatives are closed-form; the θθ block is the
//! central difference of the exact gradient in θ, whose rounding error is ~1e-12 relative,
//! so a step of 1e-4 leaves errors ~1e-8 — far below what the degrees of freedom need. The
//! θ derivatives of (RXᵀRX)⁻¹ come from the same evaluations.
//!
//! The degrees of freedom of a contrast l then follow in Python:
//! ν = 2(lᵀVl)² / (∇ᵀA∇), ∇ᵢ = lᵀ(∂V/∂φᵢ)l, A = 2H⁻¹.

use crate::error::Result;
use crate::lmm::model::LmmModel;
use faer::Mat;

/// Relative step of the central differences.
const STEP: f64 = 1e-4;

/// Derivatives in φ = (θ, σ) at the estimates.
#[derive(Clone, Debug)]
pub struct VarparDerivatives {
    /// Hessian of D(θ, σ), (nθ + 1) square
    pub hessian: Mat<f64>,
    /// ∂vcov(β̂)/∂φᵢ, one p × p matrix per φᵢ
    pub jacobian: Vec<Mat<f64>>,
}

/// The θ-gradient of D at fixed σ² and (RXᵀRX)⁻¹, at θ.
fn pieces(model: &mut LmmModel, theta: &[f64], sigma2: f64) -> Result<(Vec<f64>, Mat<f64>)> {
    model.set_theta(theta)?;
    let (g_ld, g_r2) = model.gradient_parts()?;
    let g = g_ld.iter().zip(&g_r2).map(|(a, b)| a + b / sigma2).collect();
    Ok((g, model.xtvx_inverse()))
}

/// Hessian and vcov Jacobian at θ̂ (σ̂² = r²/n′); the model is left at θ̂.
pub fn varpar_derivatives(model: &mut LmmModel, theta: &[f64]) -> Result<VarparDerivatives> {
    model.set_theta(theta)?;
    let (r2, ne) = (model.state().pwrss, model.n_eff());
    let sigma2 = r2 / ne;
    let sigma = sigma2.sqrt();
    let (_, g_r2) = model.gradient_parts()?;
    let xtvx = model.xtvx_inverse();
    let nt = theta.len();
    let p = xtvx.nrows();
    let mut h = Mat::<f64>::zeros(nt + 1, nt + 1);
    let mut jacobian = Vec::with_capacity(nt + 1);
    let mut t = theta.to_vec();
    for k in 0..nt {
        let step = STEP * theta[k].abs().max(0.1);
        t[k] = theta[k] + step;
        let (gp, vp) = pieces(model, &t, sigma2)?;
        t[k] = theta[k] - step;
        let (gm, vm) = pieces(model, &t, sigma2)?;
        t[k] = theta[k];
        for i in 0..nt {
            h[(i, k)] = (gp[i] - gm[i]) / (2.0 * step);
        }
        jacobian.push(Mat::from_fn(p, p, |i, j| sigma2 * (vp[(i, j)] - vm[(i, j)]) / (2.0 * step)));
    }
    for i in 0..nt {
        for k in 0..i {
            let v = 0.5 * (h[(i, k)] + h[(k, i)]);
            h[(i, k)] = v;
            h[(k, i)] = v;
        }
        h[(i, nt)] = -2.0 * g_r2[i] / (sigma2 * sigma);
        h[(nt, i)] = h[(i, nt)];
    }
    h[(nt, nt)] = 6.0 * r2 / (sigma2 * sigma2) - 2.0 * ne / sigma2;
    jacobian.push(Mat::from_fn(p, p, |i, j| 2.0 * sigma * xtvx[(i, j)]));
    model.set_theta(theta)?;
    Ok(VarparDerivatives { hessian: h, jacobian })
}
