# lme4's own Laplace deviance function (tolPwrss = 1e-12), evaluated at glmmx's estimates for
# the heart-rate random-slope model, where lme4 itself stops short (max|grad| = 0.014).
# R 4.2.2, lme4 1.1-31. Output: tests/reference/HR_rs_laplace_devfun.json
suppressMessages({library(lme4); library(jsonlite)})
HR <- read.csv("python/glmmx/datasets/data/HR.csv"); HR$HR_incr <- 1*(HR$HR > HR$baseHR)
f <- HR_incr ~ Time + Drug + Time*Drug + (1 + Time | Patient)
dfun <- glmer(f, data=HR, family=binomial, devFunOnly=TRUE, control=glmerControl(tolPwrss=1e-12))
theta <- c(2.4435175115851506, -0.5009533085514303, 0)
beta <- c(-0.5617153621218357, -1.7159025350918744, 0.8914591360478131, -1.954727286204785, -0.2441889415108394, 0.10734669616638809)
m <- glmer(f, data=HR, family=binomial)
out <- list(name = "HR_rs_laplace_devfun",
            call = "glmer(HR_incr ~ Time + Drug + Time*Drug + (1 + Time | Patient), data=HR, family=binomial, devFunOnly=TRUE, control=glmerControl(tolPwrss=1e-12))(c(theta, beta))",
            engine = paste("R", paste(R.version$major, R.version$minor, sep="."), "lme4", as.character(packageVersion("lme4"))),
            theta = theta, beta = beta,
            loglik_at_glmmx = -dfun(c(theta, beta)) / 2,
            loglik_lme4_default = as.numeric(logLik(m)))
write(toJSON(out, auto_unbox=TRUE, digits=NA, pretty=TRUE), "HR_rs_laplace_devfun.json")
print(out)
