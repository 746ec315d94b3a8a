"""The seed lecture's schizophrenia analysis with glmmx.npmlt (mixcat::npmlt in R).

NIMH schizophrenia trial: severity 1-4 of 437 patients at weeks 0-6, treatment vs placebo.
Cumulative-logit models with a mass-point random intercept (and random treatment slope),
the number of support points chosen by likelihood, a normal random intercept for comparison,
and plots of the fitted mass-point distributions (points sized by mass):
<out>/schizo_mass_points.png and <out>/schizo_mass_points_slope.png (needs matplotlib:
pip install 'glmmx[plot]'). The data are the package's copy: ``gx.datasets.load("schizo")``.

    python examples/schizo_npmlt.py [--quick] [--out DIR]
"""

from __future__ import annotations

import sys
import warnings

import glmmx as gx
from _common import options, pyplot


def main(argv=None) -> int:
    args = options(__doc__, argv)
    schizo = gx.datasets.load("schizo")
    formula = "y ~ trt*sqrt(wk)"

    print("== Random intercept, K = 2 (mixcat: -2 log L 3452.7001 in 90 iterations) ==")
    k2 = gx.npmlt(formula, schizo, random="~1", id="id", k=2)
    print(k2.summary(), "\n")

    print("== Random intercept and treatment slope, K = 2 (mixcat: 3450.1156) ==")
    rs = gx.npmlt(formula, schizo, random="~1 + trt", id="id", k=2)
    print(rs.summary(), "\n")

    print("== Non-proportional odds for trt and sqrt(wk), K = 2 (mixcat: 3448.2915) ==")
    npo = gx.npmlt(formula, schizo, random="~1 + trt", id="id", k=2, npo="~trt + sqrt(wk)")
    print(npo.coef_table(), "\n")

    print("== Number of support points (NPML estimate: where -2 log L stops improving) ==")
    print(gx.select_k(formula, schizo, id="id", k=range(1, 4) if args.quick else range(1, 7)), "\n")

    print("== K = 4, the NPML maximum (mixcat: maxit reached, converges only at iteration 684) ==")
    k4 = gx.npmlt(formula, schizo, random="~1", id="id", k=4)
    print(k4.summary(), "\n")

    print("== Random slope on trt, K = 3: a support point runs off to infinity (mixcat reports SE 0.28) ==")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ridge = gx.npmlt(formula, schizo, random="~1 + trt", id="id", k=3)
    print(f"-2 log L {ridge.m2loglik:.4f}; converged: {ridge.converged}")
    for w in caught:
        print("  warning:", w.message)
    print()

    print("== Normal random intercept by adaptive quadrature (ordinal::clmm nAGQ=10: 3402.7580) ==")
    normal = gx.npmlt(formula, schizo, random="~1", id="id", random_dist="normal", nagq=10, se="hessian")
    print(f"-2 log L: normal {normal.m2loglik:.4f}, NPML K=4 {k4.m2loglik:.4f}")
    print(normal.coef_table(), "\n")

    if pyplot() is None:
        return 0
    path, slope_path = args.out / "schizo_mass_points.png", args.out / "schizo_mass_points_slope.png"
    k4.plot_mass_points(path)
    rs.plot_mass_points(slope_path)
    print(f"mass-point plots written to {path} and {slope_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
