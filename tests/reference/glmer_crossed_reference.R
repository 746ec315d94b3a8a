# lme4 reference fits for tests/test_glmer_crossed.py (several grouping factors). Run from the
# repository root:  Rscript tests/reference/glmer_crossed_reference.R
# Writes tests/reference/glmer_*.json. (It once wrote tests/data/VerbAgg.csv, the columns the
# model uses; the package now bundles lme4's whole VerbAgg, the same rows and values.)
suppressMessages({library(lme4); library(jsonlite)})
engine <- paste("R", paste(R.version$major, R.version$minor, sep="."), "lme4", as.character(packageVersion("lme4")))
data(VerbAgg, package = "lme4")
cbpp <- read.csv("python/glmmx/datasets/data/cbpp.csv"); cbpp$herd <- factor(cbpp$herd); cbpp$period <- factor(cbpp$period)
cbpp$obs <- factor(seq_len(nrow(cbpp)))
out <- function(name, call, m, tight_call = NULL) {
  vc <- as.data.frame(VarCorr(m))
  list(name = name, call = call, engine = engine,
       loglik = as.numeric(logLik(m)), deviance = deviance(m), nobs = nobs(m), theta = unname(getME(m, "theta")),
       fixef = list(terms = names(fixef(m)), estimate = unname(fixef(m)), std_error = unname(sqrt(diag(as.matrix(vcov(m)))))),
       varcorr = list(group = vc$grp, var1 = ifelse(is.na(vc$var1), "", vc$var1), var2 = ifelse(is.na(vc$var2), "", vc$var2), vcov = vc$vcov, sdcor = vc$sdcor),
       ngroups = as.list(ngrps(m)), converged_lme4 = is.null(m@optinfo$conv$lme4$messages), lme4_messages = m@optinfo$conv$lme4$messages)
}
save <- function(r) {
  cat(r$name, sprintf("%.10f", r$loglik), r$converged_lme4, "\n")
  write(toJSON(r, auto_unbox = TRUE, digits = NA, pretty = TRUE, null = "null"), file = file.path("tests/reference_r", paste0(r$name, ".json")))
}
tight <- glmerControl(optimizer = "bobyqa", tolPwrss = 1e-12, optCtrl = list(rhoend = 1e-10, maxfun = 1e5))
f <- cbind(incidence, size - incidence) ~ period + (1 | herd) + (1 | obs)
save(out("glmer_cbpp_obs_laplace", "glmer(cbind(incidence, size - incidence) ~ period + (1 | herd) + (1 | obs), data = cbpp, family = binomial)",
         glmer(f, data = cbpp, family = binomial)))
save(out("glmer_cbpp_obs_laplace_tight", "same with control = glmerControl(optimizer = 'bobyqa', tolPwrss = 1e-12, optCtrl = list(rhoend = 1e-10, maxfun = 1e5))",
         glmer(f, data = cbpp, family = binomial, control = tight)))
save(out("glmer_cbpp_obs_nAGQ0", "glmer(cbind(incidence, size - incidence) ~ period + (1 | herd) + (1 | obs), data = cbpp, family = binomial, nAGQ = 0)",
         glmer(f, data = cbpp, family = binomial, nAGQ = 0)))
save(out("glmer_cbpp_obs_nAGQ0_tight", "same with nAGQ = 0 and control = glmerControl(optimizer = 'bobyqa', tolPwrss = 1e-12, optCtrl = list(rhoend = 1e-10, maxfun = 1e5))",
         glmer(f, data = cbpp, family = binomial, nAGQ = 0, control = tight)))
fv <- r2 ~ (Anger + Gender + btype + situ)^2 + (1 | id) + (1 | item)
t0 <- proc.time()[["elapsed"]]
m <- glmer(fv, data = VerbAgg, family = binomial)
r <- out("glmer_verbagg_laplace", "glmer(r2 ~ (Anger + Gender + btype + situ)^2 + (1 | id) + (1 | item), data = VerbAgg, family = binomial)", m)
r$seconds <- proc.time()[["elapsed"]] - t0
save(r)
save(out("glmer_verbagg_laplace_tight", "same with control = glmerControl(optimizer = 'bobyqa', tolPwrss = 1e-12, optCtrl = list(rhoend = 1e-10, maxfun = 1e5))",
         glmer(fv, data = VerbAgg, family = binomial, control = tight)))
