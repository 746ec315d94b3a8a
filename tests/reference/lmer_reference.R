# lme4/lmerTest reference fits for tests/test_lmer_*.py. Run from the repository root:
#   Rscript tests/reference/lmer_reference.R
# Writes python/glmmx/datasets/data/{Penicillin,Pastes}.csv (lme4's data sets) and tests/reference/lmer_*.json.
suppressMessages({library(lme4); library(lmerTest); library(jsonlite)})
engine <- paste("R", paste(R.version$major, R.version$minor, sep="."), "lme4", as.character(packageVersion("lme4")),
                "lmerTest", as.character(packageVersion("lmerTest")))
data(Penicillin, package="lme4"); data(Pastes, package="lme4")
write.csv(Penicillin, "python/glmmx/datasets/data/Penicillin.csv", row.names=FALSE)
write.csv(Pastes, "python/glmmx/datasets/data/Pastes.csv", row.names=FALSE)
sleep <- read.csv("python/glmmx/datasets/data/sleepstudy.csv")
sleep$w <- 1 + (sleep$Days %% 3) / 2
out <- function(name, call, m) {
  vc <- as.data.frame(VarCorr(m))
  cf <- summary(m)$coefficients
  res <- list(name = name, call = call, engine = engine, reml = isREML(m),
       objective = as.numeric(if (isREML(m)) REMLcrit(m) else deviance(m)),
       loglik = as.numeric(logLik(m)), nobs = nobs(m), theta = unname(getME(m, "theta")), sigma = sigma(m),
       fixef = list(terms = rownames(cf), estimate = unname(cf[, "Estimate"]), std_error = unname(cf[, "Std. Error"])),
       varcorr = list(group = vc$grp, var1 = ifelse(is.na(vc$var1), "", vc$var1), var2 = ifelse(is.na(vc$var2), "", vc$var2),
                      vcov = vc$vcov, sdcor = vc$sdcor),
       ngroups = as.list(ngrps(m)),
       converged_lme4 = is.null(m@optinfo$conv$lme4$messages))
  if ("df" %in% colnames(cf)) res$fixef$df <- unname(cf[, "df"])
  res
}
fits <- list(
  list("lmer_penicillin", "lmer(diameter ~ 1 + (1 | plate) + (1 | sample), data = Penicillin)",
       lmer(diameter ~ 1 + (1 | plate) + (1 | sample), data = Penicillin)),
  list("lmer_penicillin_ml", "lmer(diameter ~ 1 + (1 | plate) + (1 | sample), data = Penicillin, REML = FALSE)",
       lmer(diameter ~ 1 + (1 | plate) + (1 | sample), data = Penicillin, REML = FALSE)),
  list("lmer_pastes", "lmer(strength ~ 1 + (1 | batch/cask), data = Pastes)",
       lmer(strength ~ 1 + (1 | batch/cask), data = Pastes)),
  list("lmer_sleep_uncorrelated", "lmer(Reaction ~ Days + (Days || Subject), data = sleepstudy)",
       lmer(Reaction ~ Days + (Days || Subject), data = sleep)),
  list("lmer_sleep_weighted_ml", "lmer(Reaction ~ Days + (Days | Subject), data = sleepstudy, weights = 1 + (Days %% 3) / 2, REML = FALSE)",
       lmer(Reaction ~ Days + (Days | Subject), data = sleep, weights = w, REML = FALSE))
)
# lme4's default optimiser stops where the criterion is flat to ~1e-7; the "_tight" runs
# (bobyqa, rhoend = 1e-12) locate the optimum to working precision
tight <- lmerControl(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-12, maxfun = 1e5))
save <- function(r) {
  cat(r$name, sprintf("%.10f", r$objective), r$converged_lme4, "\n")
  write(toJSON(r, auto_unbox = TRUE, digits = NA, pretty = TRUE, null = "null"), file = file.path("tests/reference_r", paste0(r$name, ".json")))
}
for (f in fits) {
  save(out(f[[1]], f[[2]], f[[3]]))
  m <- update(f[[3]], control = tight)
  save(out(paste0(f[[1]], "_tight"), paste0(f[[2]], " with control = lmerControl(optimizer = 'bobyqa', optCtrl = list(rhoend = 1e-12, maxfun = 1e5))"), m))
}

# lmerTest's type III and type I tables for two crossed fixed factors, their interaction and a
# covariate (the heart-rate data with Time as a factor)
HR <- read.csv("python/glmmx/datasets/data/HR.csv"); HR$TimeF <- factor(HR$Time)
m <- lmer(HR ~ Drug * TimeF + baseHR + (1 | Patient), data = HR)
tab <- function(a) list(term = rownames(a), sum_sq = a[["Sum Sq"]], mean_sq = a[["Mean Sq"]], num_df = a[["NumDF"]],
                        den_df = a[["DenDF"]], F = a[["F value"]], p = a[["Pr(>F)"]])
r <- list(name = "lmer_HR_factor_anova", engine = engine,
          call = "anova(lmer(HR ~ Drug * TimeF + baseHR + (1 | Patient), data = HR), type = 3 and type = 1), TimeF = factor(Time)",
          reml_criterion = REMLcrit(m), type3 = tab(anova(m, type = 3)), type1 = tab(anova(m, type = 1)))
write(toJSON(r, auto_unbox = TRUE, digits = NA, pretty = TRUE), file = "tests/reference/lmer_HR_factor_anova.json")
