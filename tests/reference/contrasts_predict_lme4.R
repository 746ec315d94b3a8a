# lme4 reference for tests/test_contrasts.py and tests/test_predict.py (issue 12).
# Run from the repository root: Rscript tests/reference/contrasts_predict_lme4.R
suppressMessages({library(lme4); library(jsonlite)})
engine <- paste("R", paste(R.version$major, R.version$minor, sep = "."), "lme4", as.character(packageVersion("lme4")))
out <- list(engine = engine, r_version = R.version.string)
fit_info <- function(call_text, fit) list(call = call_text, reml_criterion = unname(lme4::REMLcrit(fit)),
    loglik = as.numeric(logLik(fit)), terms = names(fixef(fit)), estimate = unname(fixef(fit)),
    std_error = unname(sqrt(diag(as.matrix(vcov(fit))))), sigma = sigma(fit))
data(cake, package = "lme4")  # temperature is an ordered factor: contr.poly
out$cake_poly <- fit_info("lmer(angle ~ recipe * temperature + (1 | recipe:replicate), data = cake)",
    lmer(angle ~ recipe * temperature + (1 | recipe:replicate), data = cake))
cake_u <- cake; cake_u$temperature <- factor(as.character(cake$temperature), levels = levels(cake$temperature), ordered = FALSE)
out$cake_treatment <- fit_info("lmer(angle ~ recipe * temperature + (1 | recipe:replicate), data = cake with temperature unordered)",
    lmer(angle ~ recipe * temperature + (1 | recipe:replicate), data = cake_u))
out$cake_sum_helmert <- fit_info("lmer(angle ~ recipe * temperature + (1 | recipe:replicate), data = cake, contrasts = list(recipe = 'contr.sum', temperature = 'contr.helmert'))",
    lmer(angle ~ recipe * temperature + (1 | recipe:replicate), data = cake, contrasts = list(recipe = "contr.sum", temperature = "contr.helmert")))
out$cake_relevel <- fit_info("lmer(angle ~ relevel(recipe, 'C') + temperature + (1 | recipe:replicate), data = cake_u)",
    lmer(angle ~ relevel(recipe, "C") + temperature + (1 | recipe:replicate), data = cake_u))
out$contr_poly_6 <- unname(contr.poly(6))
out$contr_helmert_4 <- unname(contr.helmert(4))
data(sleepstudy, package = "lme4")
fm <- lmer(Reaction ~ Days + (Days || Subject), data = sleepstudy)
out$sleep_re_form <- list(call = "predict(lmer(Reaction ~ Days + (Days || Subject), sleepstudy), re.form = ~(1 | Subject))",
    pred = unname(predict(fm, re.form = ~(1 | Subject))), pred_na = unname(predict(fm, re.form = NA)), pred_all = unname(predict(fm)))
data(Penicillin, package = "lme4")
fp <- lmer(diameter ~ 1 + (1 | plate) + (1 | sample), data = Penicillin)
nd <- data.frame(plate = c("a", "b", "zz"), sample = c("A", "F", "A"))
out$penicillin_new <- list(call = "predict(lmer(diameter ~ 1 + (1 | plate) + (1 | sample), Penicillin), newdata = data.frame(plate = c('a','b','zz'), sample = c('A','F','A')), allow.new.levels = TRUE) and re.form = ~(1 | sample)",
    pred_allow = unname(predict(fp, newdata = nd, allow.new.levels = TRUE)),
    pred_sample = unname(predict(fp, newdata = nd, re.form = ~(1 | sample), allow.new.levels = TRUE)),
    error_without = tryCatch({predict(fp, newdata = nd); "no error"}, error = function(e) conditionMessage(e)))
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "tests/reference/contrasts_predict_lme4.json")
