# lme4's own Laplace deviance function (tolPwrss = 1e-12) for VerbAgg, evaluated at glmmx's
# estimates and at lme4's tight optimum: the likelihood surface is flat to 1e-8 over the 4th
# digit of some estimates, so this settles which point is higher on lme4's own function.
# R 4.2.2, lme4 1.1-31. Run from the repository root:
#   Rscript tests/reference/verbagg_devfun_at_glmmx.R
suppressMessages({library(lme4); library(jsonlite)})
data(VerbAgg, package = "lme4")
f <- r2 ~ (Anger + Gender + btype + situ)^2 + (1 | id) + (1 | item)
dfun <- glmer(f, data = VerbAgg, family = binomial, devFunOnly = TRUE, control = glmerControl(tolPwrss = 1e-12))
theta <- c(1.344338030847287, 0.4836537241584254)
beta <- c(-0.15598868157999987, 0.06673667536240707, 0.41299008433137396, -0.7376773919340246, -1.9584465839949032, -0.36862287595136095, -0.0011583040748056868, -0.008256801192033314, 0.012759386929334355, -0.019878226545156686, 0.1560555127489931, -0.5604698079695417, 0.1000386244054136, -0.389776175700826, -0.5578588832344639)
tight <- fromJSON("tests/reference/glmer_verbagg_laplace_tight.json")
out <- list(name = "glmer_verbagg_devfun",
            call = "glmer(r2 ~ (Anger + Gender + btype + situ)^2 + (1 | id) + (1 | item), data = VerbAgg, family = binomial, devFunOnly = TRUE, control = glmerControl(tolPwrss = 1e-12))(c(theta, beta))",
            engine = paste("R", paste(R.version$major, R.version$minor, sep="."), "lme4", as.character(packageVersion("lme4"))),
            theta = theta, beta = beta,
            loglik_at_glmmx = -dfun(c(theta, beta)) / 2,
            loglik_at_lme4_tight = -dfun(c(tight$theta, tight$fixef$estimate)) / 2)
write(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), "tests/reference/glmer_verbagg_devfun.json")
cat(sprintf("%.10f %.10f\n", out$loglik_at_glmmx, out$loglik_at_lme4_tight))
