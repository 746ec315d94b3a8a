# lme4's own deviance functions for the Muscatine model (devFunOnly = TRUE), evaluated at glmmx's estimates and at
# lme4's own, to tell optimiser precision from a difference in the objective. Keys at_* use tolPwrss = 1e-10 (the
# tolerance of the *_tight fits); keys under tolPwrss_1e13 use 1e-13. At 1e-10 lme4's AGQ-10 value at these points is
# 2.0e-4 below the converged-PIRLS value; at 1e-13 it equals glmmx's and an independent numpy AGQ-10 to 1e-9.
# Also: the Laplace value recomputed from lme4's own conditional modes (lme4's ldL2 comes from the Cholesky factor of
# the previous PIRLS iterate); a tight lme4 Laplace fit (the default Laplace fit stops with max|grad| = 19.9); and an
# nAGQ = 10 bobyqa fit with tolPwrss = 1e-13.
# Run from the repository root:  Rscript tests/reference/muscatine_devfun_at_glmmx.R
# Reads tests/reference/muscatine_nAGQ10.json, muscatine_nAGQ10_tight.json, muscatine_nAGQ1.json (from muscatine_lme4.R);
# writes tests/reference/muscatine_devfun.json, muscatine_nAGQ1_tight.json and muscatine_nAGQ10_tight13.json.
# R 4.2.2 Patched (2022-11-10 r83330), lme4 1.1.31, numDeriv (Debian r-cran-numderiv).
suppressMessages({library(lme4); library(jsonlite); library(numDeriv)})

csv <- c("python/glmmx/datasets/data/muscatine.csv", "python/glmmx/datasets/muscatine.csv")
csv <- csv[file.exists(csv)][1]
d <- read.csv(csv, stringsAsFactors = FALSE)
d <- d[!is.na(d$obese), ]
stopifnot(nrow(d) == 9856)
d$obese01 <- as.integer(d$obese == "yes")
d$Cohort <- (d$base_age - 4) / 2
d$Age <- d$age
d$Gender <- factor(d$gender, levels = c("F", "M"))
d$id <- factor(d$id)
f <- obese01 ~ Gender + log(Age) * factor(Cohort) + (1 | id)
engine <- paste("R", paste(R.version$major, R.version$minor, sep = "."), "lme4", as.character(packageVersion("lme4")))

# glmmx 0.1.0 estimates (gx.glmer(..., family="binomial", nagq=10 / nagq=1) on the same 9856 rows; theta = sd of the intercept)
gx10 <- list(theta = 3.626222075192002,
             beta = c(-12.823014893497808, -0.3363711106809424, 4.397748459174124, 3.8870556990672203, 9.95068544190924,
                      12.70092467028986, 9.469220150955426, -1.839427172700832, -4.336144248390367, -5.410582785909703,
                      -4.237106186680547),
             loglik = -4342.3872412186)
gx1 <- list(theta = 12.103786151404156,
            beta = c(-27.149192335131566, -0.17828312971304472, 8.579431540072102, 9.340947399112405, 18.731072961913977,
                     22.092970279184957, 18.686244810092735, -4.439132798277737, -8.383611847072583, -9.67225757446318,
                     -8.390064740394337),
            loglik = -3942.7786240884)

rd <- function(name) fromJSON(file.path("tests/reference", paste0(name, ".json")))
l10 <- rd("muscatine_nAGQ10"); l10t <- rd("muscatine_nAGQ10_tight"); l1 <- rd("muscatine_nAGQ1")
par_of <- function(r) c(r$theta, r$fixef$estimate)

ctl <- glmerControl(tolPwrss = 1e-10)     # the tolerance of the nAGQ10_tight / nAGQ1_tight fits (keys at_*)
ctl13 <- glmerControl(tolPwrss = 1e-13)   # tighter inner PIRLS (keys under tolPwrss_1e13)
ll <- function(dfun, p) -dfun(p) / 2
point <- function(dfun, p, grad = TRUE) {
  res <- list(par = p, loglik = ll(dfun, p))
  if (grad) res$grad_loglik <- numDeriv::grad(function(x) ll(dfun, x), p)
  res$max_abs_grad <- if (grad) max(abs(res$grad_loglik)) else NULL
  res
}
p_gx10 <- c(gx10$theta, gx10$beta); p_gx1 <- c(gx1$theta, gx1$beta)

## nAGQ = 10
dfun10 <- glmer(f, data = d, family = binomial, nAGQ = 10, devFunOnly = TRUE, control = ctl)
at_gx10 <- point(dfun10, p_gx10)
at_l10t <- point(dfun10, par_of(l10t))
at_l10 <- point(dfun10, par_of(l10), grad = FALSE)
again_gx10 <- ll(dfun10, p_gx10)   # re-evaluation after other points: PIRLS start independence
dfun10_13 <- glmer(f, data = d, family = binomial, nAGQ = 10, devFunOnly = TRUE, control = ctl13)
t13_gx10 <- point(dfun10_13, p_gx10)
t13_l10t <- point(dfun10_13, par_of(l10t))
t13_l10 <- point(dfun10_13, par_of(l10), grad = FALSE)
t13_again_gx10 <- ll(dfun10_13, p_gx10)
H <- numDeriv::hessian(function(x) dfun10_13(x) / 2, p_gx10)   # Hessian of -loglik in (theta, beta), tolPwrss = 1e-13
V <- solve(H)
se_hess_gx10 <- sqrt(diag(V))[-1]

## nAGQ = 1 (Laplace)
dfun1 <- glmer(f, data = d, family = binomial, nAGQ = 1, devFunOnly = TRUE, control = ctl)
at_gx1 <- point(dfun1, p_gx1)
at_l1 <- point(dfun1, par_of(l1))
again_gx1 <- ll(dfun1, p_gx1)
dfun1_13 <- glmer(f, data = d, family = binomial, nAGQ = 1, devFunOnly = TRUE, control = ctl13)
t13_gx1 <- point(dfun1_13, p_gx1, grad = FALSE)
# Laplace recomputed from lme4's own conditional modes u at glmmx's point (dfun1_13 was just evaluated there)
X <- model.matrix(~ Gender + log(Age) * factor(Cohort), d); g <- as.integer(d$id)
pp <- environment(dfun1_13)$pp; u <- pp$u(1); th <- gx1$theta
eta <- drop(X %*% gx1$beta) + th * u[g]; mu <- plogis(eta)
h <- th^2 * rowsum(mu * (1 - mu), g)[, 1] + 1
lap_recomputed <- sum(d$obese01 * eta - log1p(exp(eta))) - sum(u^2) / 2 - sum(log(h)) / 2
lap_check <- list(loglik_lme4_devfun = t13_gx1$loglik, loglik_recomputed_from_lme4_u = lap_recomputed,
                  lme4_ldL2 = pp$ldL2(), sum_log_h_at_lme4_u = sum(log(h)),
                  max_abs_mode_equation_at_lme4_u = max(abs(rowsum(th * (d$obese01 - mu), g)[, 1] - u)))

ctl_tight <- glmerControl(optimizer = "bobyqa", optCtrl = list(maxfun = 1e5, rhoend = 1e-10), tolPwrss = 1e-10)
warns <- character(0)
tt <- system.time(m1t <- withCallingHandlers(glmer(f, data = d, family = binomial, nAGQ = 1, control = ctl_tight),
  warning = function(w) { warns <<- c(warns, conditionMessage(w)); invokeRestart("muffleWarning") }))[["elapsed"]]
vc <- as.data.frame(VarCorr(m1t)); msgs <- m1t@optinfo$conv$lme4$messages
l1t <- list(name = "muscatine_nAGQ1_tight",
            call = paste0("glmer(obese01 ~ Gender + log(Age) * factor(Cohort) + (1 | id), data = d, family = binomial, nAGQ = 1, ",
                          "control = glmerControl(optimizer = \"bobyqa\", optCtrl = list(maxfun = 1e5, rhoend = 1e-10), tolPwrss = 1e-10))"),
            engine = engine, r_version = R.version.string, data = l1$data,
            nobs = nobs(m1t), ngroups = unname(ngrps(m1t)),
            loglik = as.numeric(logLik(m1t)), aic = AIC(m1t), bic = BIC(m1t), deviance = deviance(m1t),
            minus2loglik = -2 * as.numeric(logLik(m1t)), df_resid = df.residual(m1t),
            fixef = list(terms = names(fixef(m1t)), estimate = unname(fixef(m1t)),
                         std_error = unname(sqrt(diag(as.matrix(vcov(m1t)))))),
            theta = unname(getME(m1t, "theta")),
            varcorr = list(group = vc$grp, var1 = ifelse(is.na(vc$var1), "", vc$var1),
                           var2 = ifelse(is.na(vc$var2), "", vc$var2), vcov = vc$vcov, sdcor = vc$sdcor),
            converged_lme4 = is.null(msgs), lme4_messages = msgs,
            lme4_warnings = if (length(warns)) warns else NULL,
            optimizer = m1t@optinfo$optimizer, optimizer_conv = m1t@optinfo$conv$opt,
            optimizer_feval = m1t@optinfo$feval, elapsed_s = tt)
at_l1t <- point(dfun1, c(l1t$theta, l1t$fixef$estimate))

# tolPwrss = 1e-13 fails in the nAGQ = 0 initial step ("pwrssUpdate did not converge in (maxit) iterations"),
# so that step is skipped and the fit starts from the tolPwrss = 1e-10 tight estimates.
ctl13 <- glmerControl(optimizer = "bobyqa", optCtrl = list(maxfun = 1e5, rhoend = 1e-10), tolPwrss = 1e-13, nAGQ0initStep = FALSE)
start13 <- list(theta = l10t$theta, fixef = l10t$fixef$estimate)
warns <- character(0)
tt13 <- system.time(m13 <- withCallingHandlers(glmer(f, data = d, family = binomial, nAGQ = 10, control = ctl13, start = start13),
  warning = function(w) { warns <<- c(warns, conditionMessage(w)); invokeRestart("muffleWarning") }))[["elapsed"]]
vc <- as.data.frame(VarCorr(m13)); msgs <- m13@optinfo$conv$lme4$messages; a <- anova(m13)
l13 <- list(name = "muscatine_nAGQ10_tight13",
            call = paste0("glmer(obese01 ~ Gender + log(Age) * factor(Cohort) + (1 | id), data = d, family = binomial, nAGQ = 10, ",
                          "control = glmerControl(optimizer = \"bobyqa\", optCtrl = list(maxfun = 1e5, rhoend = 1e-10), tolPwrss = 1e-13, nAGQ0initStep = FALSE), start = list(theta, fixef from muscatine_nAGQ10_tight))"),
            engine = engine, r_version = R.version.string, data = l10$data,
            nobs = nobs(m13), ngroups = unname(ngrps(m13)),
            loglik = as.numeric(logLik(m13)), aic = AIC(m13), bic = BIC(m13), deviance = deviance(m13),
            minus2loglik = -2 * as.numeric(logLik(m13)), df_resid = df.residual(m13),
            fixef = list(terms = names(fixef(m13)), estimate = unname(fixef(m13)),
                         std_error = unname(sqrt(diag(as.matrix(vcov(m13)))))),
            theta = unname(getME(m13, "theta")),
            varcorr = list(group = vc$grp, var1 = ifelse(is.na(vc$var1), "", vc$var1),
                           var2 = ifelse(is.na(vc$var2), "", vc$var2), vcov = vc$vcov, sdcor = vc$sdcor),
            converged_lme4 = is.null(msgs), lme4_messages = msgs,
            lme4_warnings = if (length(warns)) warns else NULL,
            optimizer = m13@optinfo$optimizer, optimizer_conv = m13@optinfo$conv$opt,
            optimizer_feval = m13@optinfo$feval, elapsed_s = tt13,
            anova = list(term = rownames(a), npar = a$npar, sum_sq = a[["Sum Sq"]], mean_sq = a[["Mean Sq"]], F = a[["F value"]]))
at_l13 <- point(dfun10, c(l13$theta, l13$fixef$estimate))
t13_l13 <- point(dfun10_13, c(l13$theta, l13$fixef$estimate))

out <- list(name = "muscatine_devfun", engine = engine, r_version = R.version.string,
            call = paste("glmer(obese01 ~ Gender + log(Age) * factor(Cohort) + (1 | id), data = d, family = binomial, nAGQ = q,",
                         "devFunOnly = TRUE, control = glmerControl(tolPwrss = 1e-10))(c(theta, beta)); loglik = -devfun/2;",
                         "gradients by numDeriv::grad; under tolPwrss_1e13 the same with tolPwrss = 1e-13"),
            nAGQ10 = list(glmmx_loglik = gx10$loglik,
                          at_glmmx = at_gx10, at_glmmx_reevaluated = again_gx10,
                          at_lme4_tight = at_l10t, at_lme4_default = at_l10, at_lme4_tight13 = at_l13,
                          lme4_default_loglik = l10$loglik, lme4_tight_loglik = l10t$loglik, lme4_tight13_loglik = l13$loglik,
                          tolPwrss_1e13 = list(at_glmmx = t13_gx10, at_glmmx_reevaluated = t13_again_gx10,
                                               at_lme4_tight = t13_l10t, at_lme4_default = t13_l10, at_lme4_tight13 = t13_l13,
                                               se_from_numDeriv_hessian_at_glmmx = se_hess_gx10,
                                               sd_se_from_numDeriv_hessian_at_glmmx = sqrt(V[1, 1]))),
            nAGQ1 = list(glmmx_loglik = gx1$loglik,
                         at_glmmx = at_gx1, at_glmmx_reevaluated = again_gx1,
                         at_lme4_default = at_l1, at_lme4_tight = at_l1t,
                         lme4_default_loglik = l1$loglik, lme4_tight_loglik = l1t$loglik,
                         tolPwrss_1e13 = list(at_glmmx = t13_gx1, laplace_recomputed_at_glmmx = lap_check)))
write(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE, null = "null"), "tests/reference/muscatine_devfun.json")
write(toJSON(l13, auto_unbox = TRUE, digits = NA, pretty = TRUE, null = "null"), "tests/reference/muscatine_nAGQ10_tight13.json")
write(toJSON(l1t, auto_unbox = TRUE, digits = NA, pretty = TRUE, null = "null"), "tests/reference/muscatine_nAGQ1_tight.json")
str(out, digits.d = 12)
cat("Laplace tight:", sprintf("%.10f", l1t$loglik), "theta", l1t$theta, "conv", l1t$converged_lme4, l1t$lme4_messages, "elapsed", tt, "\n")
cat("nAGQ10 tight13:", sprintf("%.10f", l13$loglik), "theta", l13$theta, "conv", l13$converged_lme4, l13$lme4_messages, "elapsed", tt13, "\n")
