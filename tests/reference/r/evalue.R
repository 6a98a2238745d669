# Reference values for mmrwe.stats.evalue (E-values, VanderWeele & Ding 2017).
# Run from the repository root: Rscript tests/reference/r/evalue.R
# Writes tests/reference/expected/evalue.json.
#
# The EValue package is not installable here (no CRAN access, no Debian package), so its
# functions are transcribed below verbatim in substance from EValue 4.1.4
# (github.com/cran/EValue, R/EValue.R: evalues.RR, evalues.OR, evalues.HR, threshold;
# R/effect_measures.R: toRR.OR, toRR.HR). Only messages and S3 classes are left out.
suppressMessages({library(survival); library(jsonlite)})
out_json <- "tests/reference/expected/evalue.json"

toRR_OR <- function(est, rare) if (rare) est else sqrt(est)
toRR_HR <- function(est, rare) if (rare) est else (1 - 0.5^sqrt(est)) / (1 - 0.5^sqrt(1 / est))

threshold <- function(x, true = 1) {
  if (is.na(x)) return(NA)
  if (x <= 1) {
    x <- 1 / x
    true <- 1 / true
  }
  if (true <= x) return((x + sqrt(x * (x - true))) / true)
  rat <- true / x
  rat + sqrt(rat * (rat - 1))
}

evalues_RR <- function(est, lo = NA, hi = NA, true = 1) {
  values <- c(est, lo, hi)
  if (est < 0) stop("RR cannot be negative")
  null.CI <- NA
  if (est > true & !is.na(lo)) null.CI <- (lo < true)
  if (est < true & !is.na(hi)) null.CI <- (hi > true)
  if (!is.na(lo) & !is.na(hi)) if (lo > hi) stop("Lower confidence limit should be less than upper confidence limit")
  if (!is.na(lo) & est < lo) stop("Point estimate should be inside confidence interval")
  if (!is.na(hi) & est > hi) stop("Point estimate should be inside confidence interval")
  E <- sapply(values, FUN = function(x) threshold(x, true = true))
  if (!is.na(null.CI) & null.CI == TRUE) E[2:3] <- 1
  if (!is.na(lo) | !is.na(hi)) {
    if (est > true) E[3] <- NA
    if (est < true) E[2] <- NA
    if (est == true) { E[2] <- 1; E[3] <- NA }
  }
  result <- rbind(values, E)
  rownames(result) <- c("RR", "E-values")
  colnames(result) <- c("point", "lower", "upper")
  result
}

conv <- function(x, f, rare) if (is.na(x)) NA else f(x, rare)
evalues_OR <- function(est, lo = NA, hi = NA, rare, true = 1)
  evalues_RR(toRR_OR(est, rare), conv(lo, toRR_OR, rare), conv(hi, toRR_OR, rare), toRR_OR(true, rare))
evalues_HR <- function(est, lo = NA, hi = NA, rare, true = 1)
  evalues_RR(toRR_HR(est, rare), conv(lo, toRR_HR, rare), conv(hi, toRR_HR, rare), toRR_HR(true, rare))

na_null <- function(x) if (is.na(x)) NULL else unname(x)

run <- function(name, measure, est, lo = NA, hi = NA, rare = NA, true = 1, note = "") {
  r <- switch(measure,
              RR = evalues_RR(est, lo, hi, true),
              OR = evalues_OR(est, lo, hi, rare, true),
              HR = evalues_HR(est, lo, hi, rare, true))
  e <- r["E-values", ]
  ci <- if (!is.na(e["lower"])) e["lower"] else e["upper"]
  list(name = name, measure = measure, estimate = est, lower = na_null(lo), upper = na_null(hi),
       rare = if (is.na(rare)) NULL else rare, true = true,
       rr = list(estimate = unname(r["RR", "point"]), lower = na_null(r["RR", "lower"]),
                 upper = na_null(r["RR", "upper"])),
       point = unname(e["point"]), ci = na_null(ci), note = note)
}

# a real hazard ratio: survival::lung, death ~ sex (women vs men), 72% of patients died
fit <- coxph(Surv(time, status) ~ sex, data = lung)
hr <- unname(exp(coef(fit)))
ci <- unname(exp(confint(fit)))

cases <- list(
  run("rr_vanderweele_ding", "RR", 3.9, 1.8, 8.7, note = "VanderWeele & Ding 2017 example"),
  run("rr_protective", "RR", 0.8, 0.71, 0.91),
  run("rr_crosses", "RR", 1.3, 0.9, 1.8),
  run("rr_protective_crosses", "RR", 0.7, 0.4, 1.2),
  run("rr_point_only", "RR", 2.5),
  run("rr_lower_only", "RR", 2.5, lo = 1.4),
  run("rr_upper_only_above_null", "RR", 2.5, hi = 4, note = "R: CI E-value NA"),
  run("rr_null", "RR", 1, 0.8, 1.25, note = "estimate equals the null"),
  run("rr_nonnull_true_toward", "RR", 3, 2, 4.5, true = 1.5),
  run("rr_nonnull_true_away", "RR", 1.2, 1.05, 1.4, true = 2, note = "effect away from true"),
  run("or_common", "OR", 2.4, 1.3, 4.4, rare = FALSE),
  run("or_rare", "OR", 2.4, 1.3, 4.4, rare = TRUE),
  run("or_common_protective", "OR", 0.45, 0.3, 0.7, rare = FALSE),
  run("hr_common_evalue_doc", "HR", 0.56, 0.46, 0.69, rare = FALSE, note = "EValue ?evalue example"),
  run("hr_rare_evalue_doc", "HR", 0.56, 0.46, 0.69, rare = TRUE),
  run("hr_common_icaria_os", "HR", 0.78, 0.59, 1.02, rare = FALSE, note = "crosses 1"),
  run("hr_common_harmful", "HR", 1.8, 1.2, 2.7, rare = FALSE),
  run("hr_lung_sex", "HR", hr, ci[1], ci[2], rare = FALSE, note = "coxph(Surv(time, status) ~ sex, lung)")
)
names(cases) <- vapply(cases, `[[`, "", "name")

write_json(list(meta = list(r = R.version.string, survival = format(packageVersion("survival")),
                            jsonlite = format(packageVersion("jsonlite")),
                            script = "tests/reference/r/evalue.R",
                            evalue_source = "EValue 4.1.4 transcribed (github.com/cran/EValue)"),
                cases = cases),
           out_json, digits = NA, auto_unbox = TRUE, pretty = TRUE, null = "null")
cat("wrote", out_json, "\n")
