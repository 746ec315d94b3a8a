"""Reference values for npmlt on the schizo data, transcribed from ../shared/spec/npmlt.md §10
(R 4.2.2, mixcat 1.0-4, statmod 1.5.0, ordinal 2022.11-16; the R call is beside each fit).

Only fits that mixcat brought to convergence (its score test met before maxit) are used for
parameter-level comparisons; for the others the spec's −2 log L is an upper bound that glmmx
must reach or beat.
"""

FORMULA = "y ~ trt*sqrt(wk)"

# name: (npmlt kwargs, mixcat call, -2 log L, coefficients {name: (estimate, se)},
#        points [(coords, se)], masses [(mass, se)], (variance, se) of the intercept)
CONVERGED = {
    "S_ri_k2": (
        dict(random="~1", k=2),
        "npmlt(y ~ trt*sqrt(wk), random = ~1, id = id, k = 2)",
        3452.7001,
        {"(Intercept) 1": (-4.96216, 0.275702), "(Intercept) 2": (-2.29412, 0.232262), "(Intercept) 3": (-0.38950, 0.218387),
         "trt": (-0.29480, 0.234013), "sqrt(wk)": (0.71304, 0.123983), "trt:sqrt(wk)": (1.04401, 0.136068)},
        [([-1.88105], [0.134946]), ([1.17593], [0.105711])],
        [(0.38467, 0.0307211), (0.61533, 0.0307211)],
        (2.21198, 0.216845),
    ),
    "S_ri_k3": (
        dict(random="~1", k=3),
        "npmlt(y ~ trt*sqrt(wk), random = ~1, id = id, k = 3)",
        3389.3630,
        {"(Intercept) 1": (-5.73771, 0.313192), "(Intercept) 2": (-2.80496, 0.260112), "(Intercept) 3": (-0.70798, 0.233013),
         "trt": (0.02489, 0.255545), "sqrt(wk)": (0.76924, 0.120202), "trt:sqrt(wk)": (1.16120, 0.134149)},
        [([-3.21346], [0.26411]), ([-0.01754], [0.166493]), ([2.29371], [0.20447])],
        [(0.20404, 0.0291417), (0.50623, 0.0426454), (0.28973, 0.0422903)],
        (3.63146, 0.405865),
    ),
    "S_npo_ri_k2": (
        dict(random="~1", k=2, npo="~trt + sqrt(wk)"),
        "npmlt(y ~ trt*sqrt(wk), formula.npo = ~trt+sqrt(wk), random = ~1, id = id, k = 2)",
        3452.0976,
        {"(Intercept) 1": (-5.11380, 0.52253), "(Intercept) 2": (-2.33542, 0.251601), "(Intercept) 3": (-0.35597, 0.233631),
         "trt 1": (-0.27138, 0.446841), "trt 2": (-0.25894, 0.259129), "trt 3": (-0.28217, 0.258661),
         "sqrt(wk) 1": (0.80217, 0.210914), "sqrt(wk) 2": (0.73772, 0.142599), "sqrt(wk) 3": (0.67916, 0.136126),
         "trt:sqrt(wk)": (1.02642, 0.1543)},
        [([-1.83512], [0.142139]), ([1.18248], [0.108679])],
        [(0.39186, 0.0318223), (0.60814, 0.0318223)],
        (2.17, 0.228222),
    ),
    "S_npo_ri_k3": (
        dict(random="~1", k=3, npo="~trt + sqrt(wk)"),
        "npmlt(y ~ trt*sqrt(wk), formula.npo = ~trt+sqrt(wk), random = ~1, id = id, k = 3)",
        3387.4186,
        {"(Intercept) 1": (-6.19236, 0.539994), "(Intercept) 2": (-2.84651, 0.297609), "(Intercept) 3": (-0.68474, 0.239711),
         "trt 1": (0.15055, 0.470575), "trt 2": (0.10165, 0.318486), "trt 3": (0.07574, 0.260612),
         "sqrt(wk) 1": (0.99211, 0.215664), "sqrt(wk) 2": (0.78552, 0.146196), "sqrt(wk) 3": (0.73390, 0.137685),
         "trt:sqrt(wk)": (1.12454, 0.165622)},
        [([-3.13273], [0.280256]), ([0.00019], [0.165672]), ([2.36586], [0.207826])],
        [(0.20714, 0.0297378), (0.51862, 0.0417641), (0.27424, 0.0411173)],
        (3.56784, 0.427627),
    ),
    "S_blogit_npo_ri_k2": (
        dict(random="~1", k=2, npo="~trt*sqrt(wk)", link="blogit"),
        'npmlt(y ~ trt*sqrt(wk), formula.npo = ~trt*sqrt(wk), random = ~1, id = id, k = 2, link = "blogit")',
        3503.5963,
        {"(Intercept) 1": (-5.49390, 1.22774), "(Intercept) 2": (-1.56344, 0.32792), "(Intercept) 3": (-0.59591, 0.279821),
         "trt 1": (0.79372, 1.27416), "trt 2": (-0.49880, 0.352656), "trt 3": (-0.78323, 0.304766),
         "sqrt(wk) 1": (2.02666, 0.570898), "sqrt(wk) 2": (0.89710, 0.198616), "sqrt(wk) 3": (0.31831, 0.169801),
         "trt:sqrt(wk) 1": (1.25486, 0.607065), "trt:sqrt(wk) 2": (1.36388, 0.23893), "trt:sqrt(wk) 3": (1.24678, 0.214905)},
        [([-2.70711], [0.21629]), ([1.20497], [0.139161])],
        [(0.30801, 0.0299792), (0.69199, 0.0299792)],
        (3.26198, 0.457363),
    ),
    "S_blogit_npo_ri_k3": (
        dict(random="~1", k=3, npo="~trt*sqrt(wk)", link="blogit"),
        'npmlt(y ~ trt*sqrt(wk), formula.npo = ~trt*sqrt(wk), random = ~1, id = id, k = 3, link = "blogit")',
        3485.4754,
        {"(Intercept) 1": (-5.91647, 1.22011), "(Intercept) 2": (-1.99221, 0.385833), "(Intercept) 3": (-1.02740, 0.35307),
         "trt 1": (1.32137, 1.2658), "trt 2": (0.05715, 0.437425), "trt 3": (-0.21397, 0.396715),
         "sqrt(wk) 1": (1.98757, 0.563515), "sqrt(wk) 2": (0.86142, 0.199891), "sqrt(wk) 3": (0.28474, 0.169956),
         "trt:sqrt(wk) 1": (1.58431, 0.61213), "trt:sqrt(wk) 2": (1.67769, 0.26149), "trt:sqrt(wk) 3": (1.55054, 0.237161)},
        [([-4.46809], [0.452677]), ([-0.60461], [0.291501]), ([2.49701], [0.567356])],
        [(0.15327, 0.0305116), (0.46087, 0.0779505), (0.38586, 0.0842248)],
        (5.63422, 1.04892),
    ),
    "S_bin_ri_k2": (
        dict(random="~1", k=2, binary=True),
        "npmlt(yb ~ trt*sqrt(wk), random = ~1, id = id, k = 2)   [yb = 1 if y >= 3 else 2]",
        1577.6723,
        {"(Intercept) 1": (2.93939, 0.321382), "trt": (-0.00305, 0.328853), "sqrt(wk)": (-1.11696, 0.199671),
         "trt:sqrt(wk)": (-0.95393, 0.225351)},
        [([-1.92049], [0.187243]), ([1.69680], [0.179321])],
        [(0.46908, 0.040861), (0.53092, 0.040861)],
        (3.2587, 0.391441),
    ),
}

# Fits where mixcat stopped at maxit, on a ridge, or at NaN: (kwargs, mixcat's -2 log L or None
# for NaN, the spec's best known value ("independent max"), whether a ridge is expected).
BOUNDS = {
    "S_ri_k4": (dict(random="~1", k=4), 3382.8998, 3382.8998, False),
    "S_ri_k5": (dict(random="~1", k=5), None, 3382.8998, False),
    "S_rs_k3": (dict(random="~1 + trt", k=3), 3385.3252, 3385.3250, True),
    # glmmx reaches finite, converged maxima below the spec's bounds (restarts after a ridge)
    "S_rs_k4": (dict(random="~1 + trt", k=4), 3379.9957, 3377.1440, False),
    "S_rs_k5": (dict(random="~1 + trt", k=5), 3379.0565, 3375.2771, False),
    "S_npo_ri_k4": (dict(random="~1", k=4, npo="~trt + sqrt(wk)"), 3381.3547, 3381.3547, False),
    "S_npo_rs_k3": (dict(random="~1 + trt", k=3, npo="~trt + sqrt(wk)"), 3382.8186, 3382.8184, True),
    "S_npo_rs_k4": (dict(random="~1 + trt", k=4, npo="~trt + sqrt(wk)"), None, 3374.2215, False),
    "S_bin_ri_k3": (dict(random="~1", k=3, binary=True), 1564.1332, None, None),
}

# K = 1 against ordinal::clm (spec §10.4): clm(factor(y) ~ trt*sqrt(wk)); slopes have the
# opposite sign in clm; SEs are clm's (Hessian-based).
CLM = {
    "m2loglik": 3756.1938,
    "coef": {"(Intercept) 1": (-3.8072790, 0.1898591), "(Intercept) 2": (-1.7601671, 0.1702695),
             "(Intercept) 3": (-0.4221112, 0.1636329), "trt": (-0.0006043, 0.1883287),
             "sqrt(wk)": (-0.5366467, 0.1108150), "trt:sqrt(wk)": (-0.7509693, 0.1276787)},
}
CLM_NOMINAL_M2LOGLIK = 3743.2050

# clmm(factor(y) ~ trt*sqrt(wk) + (1|id), nAGQ = 10) (spec §10.4), as clmm reports them
# (slopes of opposite sign to npmlt's).
CLMM_AGQ10 = {
    "m2loglik": 3402.7580,
    "re_var": 3.773582,
    "coef": {"(Intercept) 1": (-5.8591999, 0.3318395), "(Intercept) 2": (-2.8263960, 0.2900081),
             "(Intercept) 3": (-0.7084620, 0.2749533), "trt": (-0.0584474, 0.3137339),
             "sqrt(wk)": (-0.7657933, 0.1307668), "trt:sqrt(wk)": (-1.2061259, 0.1526654)},
}
# clmm(factor(y) ~ trt*sqrt(wk) + (1+trt|id)) by the Laplace approximation (spec §10.4).
CLMM_RS_LAPLACE = {"m2loglik": 3415.3040, "var_int": 4.3519, "var_trt": 0.7901, "cor": -0.465}
