suppressMessages({library(lme4); library(jsonlite)})
HR <- read.csv("python/glmmx/datasets/data/HR.csv"); HR$HR_incr <- 1*(HR$HR > HR$baseHR)
cbpp <- read.csv("python/glmmx/datasets/data/cbpp.csv"); cbpp$herd <- factor(cbpp$herd); cbpp$period <- factor(cbpp$period)
ctl <- glmerControl(tolPwrss = 1e-12, optCtrl = list(maxfun = 1e5))
out <- function(name, call, m) {
  vc <- as.data.frame(VarCorr(m))
  list(name = name, call = call,
       engine = paste("R", paste(R.version$major, R.version$minor, sep="."), "lme4", as.character(packageVersion("lme4"))),
       loglik = as.numeric(logLik(m)), deviance = deviance(m), nobs = nobs(m),
       fixef = list(terms = names(fixef(m)), estimate = unname(fixef(m)), std_error = unname(sqrt(diag(as.matrix(vcov(m)))))),
       theta = unname(getME(m, "theta")),
       varcorr = list(group = vc$grp, var1 = ifelse(is.na(vc$var1), "", vc$var1), var2 = ifelse(is.na(vc$var2), "", vc$var2), vcov = vc$vcov, sdcor = vc$sdcor),
       converged_lme4 = is.null(m@optinfo$conv$lme4$messages), lme4_messages = m@optinfo$conv$lme4$messages)
}
res <- list()
c1 <- "glmer(HR_incr ~ Time + Drug + Time*Drug + (1 | Patient), data=HR, family=binomial, nAGQ=%d, control=glmerControl(tolPwrss=1e-12, optCtrl=list(maxfun=1e5))); HR_incr = 1*(HR > baseHR)"
for (q in c(0, 1)) {
  m <- glmer(HR_incr ~ Time + Drug + Time*Drug + (1 | Patient), data=HR, family=binomial, nAGQ=q, control=ctl)
  res[[length(res)+1]] <- out(sprintf("HR_ri_nAGQ%d_tight", q), sprintf(c1, q), m)
}
m <- glmer(HR_incr ~ Time + Drug + Time*Drug + (1 + Time|Patient), data=HR, family=binomial, control=ctl)
res[[length(res)+1]] <- out("HR_rs_laplace_tight", "glmer(HR_incr ~ Time + Drug + Time*Drug + (1 + Time|Patient), data=HR, family=binomial, control=glmerControl(tolPwrss=1e-12, optCtrl=list(maxfun=1e5)))", m)
m <- glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), data=cbpp, family=binomial, control=ctl)
res[[length(res)+1]] <- out("cbpp_laplace_tight", "glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), data=cbpp, family=binomial, control=glmerControl(tolPwrss=1e-12, optCtrl=list(maxfun=1e5)))", m)
for (r in res) cat(r$name, sprintf("%.10f", r$loglik), r$converged_lme4, "\n")
dir.create("/tmp/r/out", showWarnings=FALSE)
for (r in res) write(toJSON(r, auto_unbox=TRUE, digits=NA, pretty=TRUE, null="null"), file=file.path("/tmp/r/out", paste0(r$name, ".json")))
