# lme4 reference fits for the Muscatine obesity example (geepack's muscatine data).
# Run from the repository root:  Rscript tests/reference/muscatine_lme4.R
# Writes tests/reference/muscatine_nAGQ10.json, muscatine_nAGQ1.json, muscatine_nAGQ10_tight.json.
# Produced with R 4.2.2 Patched (2022-11-10 r83330), lme4 1.1.31, Matrix 1.5.3, jsonlite 1.8.4 (Debian bookworm packages).
suppressMessages({library(lme4); library(jsonlite)})

csv <- c("python/glmmx/datasets/data/muscatine.csv", "python/glmmx/datasets/muscatine.csv")
csv <- csv[file.exists(csv)][1]
if (is.na(csv)) stop("muscatine.csv not found; run from the repository root")
d <- read.csv(csv, stringsAsFactors = FALSE)
stopifnot(nrow(d) == 14568, length(unique(d$id)) == 4856)
d <- d[!is.na(d$obese), ]
stopifnot(nrow(d) == 9856)
d$obese01 <- as.integer(d$obese == "yes")
d$Cohort <- (d$base_age - 4) / 2
d$Age <- d$age
d$Gender <- factor(d$gender, levels = c("F", "M"))
d$id <- factor(d$id)
data_desc <- paste0("geepack's muscatine (", csv, ") with rows where obese is NA dropped ",
                   "(9856 of 14568 rows remain), obese01 = as.integer(obese == \"yes\"), Cohort = (base_age - 4)/2 (1..5), ",
                   "Age = age, Gender = factor(gender, levels = c(\"F\", \"M\")) (F the reference), id a factor.")

f <- obese01 ~ Gender + log(Age) * factor(Cohort) + (1 | id)
ctl_tight <- glmerControl(optimizer = "bobyqa", optCtrl = list(maxfun = 1e5, rhoend = 1e-10), tolPwrss = 1e-10)

r_version <- R.version.string
engine <- paste("R", paste(R.version$major, R.version$minor, sep = "."), "lme4", as.character(packageVersion("lme4")))

fit <- function(nAGQ, control = NULL) {
  warns <- character(0)
  m <- withCallingHandlers(
    if (is.null(control)) glmer(f, data = d, family = binomial, nAGQ = nAGQ)
    else glmer(f, data = d, family = binomial, nAGQ = nAGQ, control = control),
    warning = function(w) { warns <<- c(warns, conditionMessage(w)); invokeRestart("muffleWarning") })
  list(model = m, warnings = warns)
}

out <- function(name, call, fr, anova_tab = FALSE, timing = NULL) {
  m <- fr$model
  vc <- as.data.frame(VarCorr(m))
  msgs <- m@optinfo$conv$lme4$messages
  res <- list(name = name, call = call, engine = engine, r_version = r_version,
              data = data_desc,
              nobs = nobs(m), ngroups = unname(ngrps(m)),
              loglik = as.numeric(logLik(m)), aic = AIC(m), bic = BIC(m),
              deviance = deviance(m), minus2loglik = -2 * as.numeric(logLik(m)),
              df_resid = df.residual(m),
              fixef = list(terms = names(fixef(m)), estimate = unname(fixef(m)),
                           std_error = unname(sqrt(diag(as.matrix(vcov(m)))))),
              theta = unname(getME(m, "theta")),
              varcorr = list(group = vc$grp, var1 = ifelse(is.na(vc$var1), "", vc$var1),
                             var2 = ifelse(is.na(vc$var2), "", vc$var2), vcov = vc$vcov, sdcor = vc$sdcor),
              converged_lme4 = is.null(msgs), lme4_messages = msgs,
              lme4_warnings = if (length(fr$warnings)) fr$warnings else NULL,
              optimizer = m@optinfo$optimizer, optimizer_conv = m@optinfo$conv$opt,
              optimizer_feval = m@optinfo$feval)
  if (anova_tab) {
    a <- anova(m)
    res$anova <- list(term = rownames(a), npar = a$npar, sum_sq = a[["Sum Sq"]],
                      mean_sq = a[["Mean Sq"]], F = a[["F value"]])
  }
  if (!is.null(timing)) res$timing_s <- timing
  res
}

call10 <- "glmer(obese01 ~ Gender + log(Age) * factor(Cohort) + (1 | id), data = d, family = binomial, nAGQ = 10)"
call1 <- "glmer(obese01 ~ Gender + log(Age) * factor(Cohort) + (1 | id), data = d, family = binomial, nAGQ = 1)"
call10t <- paste0("glmer(obese01 ~ Gender + log(Age) * factor(Cohort) + (1 | id), data = d, family = binomial, nAGQ = 10, ",
                  "control = glmerControl(optimizer = \"bobyqa\", optCtrl = list(maxfun = 1e5, rhoend = 1e-10), tolPwrss = 1e-10))")

# Timing of the default nAGQ = 10 fit, 3 repeats (elapsed seconds).
runs <- numeric(3)
for (i in 1:3) runs[i] <- system.time(fr10 <- fit(10))[["elapsed"]]
cpu <- sub("^model name\\s*:\\s*", "", grep("^model name", readLines("/proc/cpuinfo"), value = TRUE)[1])
machine <- sprintf("%s, nproc %s, %s", cpu, trimws(system("nproc", intern = TRUE)), R.version$platform)
timing <- list(median = median(runs), runs = runs, machine = machine)

fr1 <- fit(1)
fr10t <- fit(10, ctl_tight)

res <- list(out("muscatine_nAGQ10", call10, fr10, anova_tab = TRUE, timing = timing),
            out("muscatine_nAGQ1", call1, fr1, anova_tab = TRUE),
            out("muscatine_nAGQ10_tight", call10t, fr10t, anova_tab = TRUE))
for (r in res) {
  cat(r$name, sprintf("logLik %.10f", r$loglik), "converged_lme4", r$converged_lme4, "\n")
  write(toJSON(r, auto_unbox = TRUE, digits = NA, pretty = TRUE, null = "null"),
        file = file.path("tests/reference", paste0(r$name, ".json")))
}
