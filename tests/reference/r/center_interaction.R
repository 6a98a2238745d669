# Reference fixture for center_effects' term x center interaction test: the likelihood
# ratio of coxph(Surv ~ x + strata(center)) against the model with every term's
# coefficient free per center (x + x:center + strata(center)), survival 3.5.
# Run from the repository root:
#   Rscript tests/reference/r/center_interaction.R
# Writes tests/reference/data/center_interaction.csv and
# tests/reference/expected/center_interaction.json.
suppressPackageStartupMessages({library(survival); library(jsonlite)})
set.seed(20261207)
n <- 1200
center <- sprintf("C%02d", sample(1:6, n, replace = TRUE))
age <- round(rnorm(n, 65, 9), 1)
sex <- sample(c(0, 1), n, replace = TRUE)
hgb <- round(rnorm(n, 11, 1.6), 1)
eff <- c(C01 = 0, C02 = 0.3, C03 = -0.2, C04 = 0.1, C05 = 0, C06 = 0.4)
lp <- 0.02 * (age - 65) + 0.25 * sex - 0.15 * (hgb - 11) + eff[center] * sex
time <- ceiling(rexp(n, 0.03 * exp(lp)) * 30)
cens <- ceiling(runif(n, 100, 1500))
event <- as.integer(time <= cens)
time <- pmin(time, cens)
d <- data.frame(time, event, center, age, sex, hgb)
write.csv(d, "tests/reference/data/center_interaction.csv", row.names = FALSE)

out <- list()
for (ties in c("efron", "breslow")) {
  strat <- coxph(Surv(time, event) ~ age + sex + hgb + strata(center), data = d, ties = ties)
  full <- coxph(Surv(time, event) ~ (age + sex + hgb) + (age + sex + hgb):center + strata(center),
                data = d, ties = ties)
  a <- anova(strat, full)
  out[[ties]] <- list(
    loglik_strat = strat$loglik[2], loglik_full = full$loglik[2],
    chisq = a[2, "Chisq"], df = a[2, "Df"], p = a[2, "Pr(>|Chi|)"],
    df_full = sum(!is.na(coef(full))))
}
out$software <- list(R = R.version.string, survival = as.character(packageVersion("survival")))
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE),
           "tests/reference/expected/center_interaction.json")
