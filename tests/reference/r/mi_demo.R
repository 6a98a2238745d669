# Reference for the pooled (multiply imputed) Cox models of the demo: FISH risk is missing for
# 23 of the 51 patients of the SYNTHETIC demo cohort; mmrwe imputes it m = 50 times
# ([imputation] of src/mmrwe/data/demo/study.toml) and pools [[cox]] 3 (PFS ~ fish_risk) and
# [[cox]] 4 (OS ~ fish_risk). The draws come from numpy, so R cannot redo the imputation: this
# script takes mmrwe's completed data sets (written by mi_demo_export.py, which it runs first)
# and redoes everything after them: coxph on each data set and mice::pool (Rubin's rules,
# Barnard-Rubin df, dfcom = events - coefficients).
# Run from the repository root: Rscript tests/reference/r/mi_demo.R
# (MMRWE_PYTHON names the Python with mmrwe's dependencies; default "python".)
suppressMessages({library(survival); library(mice); library(jsonlite)})
py <- Sys.getenv("MMRWE_PYTHON", "python")
stopifnot(system2(py, "tests/reference/r/mi_demo_export.py") == 0)
d <- read.csv("tests/reference/data/mi_demo_completed.csv", stringsAsFactors = FALSE)
dpm <- 30.4375

pooled <- function(ep) {
  fits <- lapply(split(d, d$imp), function(x) {
    x$high <- as.numeric(x$fish_risk == "high")
    coxph(Surv(x[[paste0(ep, "_days")]] / dpm, x[[paste0(ep, "_event")]]) ~ high, data = x,
          ties = "efron")
  })
  p <- pool(as.mira(fits))
  s <- summary(p, conf.int = TRUE)
  pp <- p$pooled
  list(m = length(fits), estimate = pp$estimate, se = s$std.error, df = pp$df, p = s$p.value,
       lower = s[["2.5 %"]], upper = s[["97.5 %"]], fmi = pp$fmi, riv = pp$riv,
       lambda = pp$lambda, ubar = pp$ubar, b = pp$b, t = pp$t, dfcom = pp$dfcom,
       hr = exp(pp$estimate), hr_lower = exp(s[["2.5 %"]]), hr_upper = exp(s[["97.5 %"]]),
       events = fits[[1]]$nevent, n = fits[[1]]$n)
}
res <- list(meta = list(r = R.version.string, survival = format(packageVersion("survival")),
                        mice = format(packageVersion("mice")),
                        data = "mmrwe's completed data sets of the synthetic demo cohort"),
            pfs = pooled("pfs"), os = pooled("os"))
write_json(res, "tests/reference/expected/mi_demo.json", digits = NA, auto_unbox = TRUE, pretty = TRUE)
