# Reference fixtures for mmrwe.stats.rmst: restricted mean survival time per group and the
# two-group contrasts of survRM2::rmst2 (unadjusted).
# Run from the repository root: Rscript tests/reference/r/rmst.R
# Writes tests/reference/data/rmst_<name>.csv and tests/reference/expected/rmst.json.
#
# survRM2 is not packaged for Debian, so its formulas are written out below from its source
# (survRM2 1.0-4, R/rmst1.R and R/rmst2.R, read at github.com/cran/survRM2): per-arm RMST
# and variance from survfit, the difference with a Wald CI, the ratio of RMSTs and of
# restricted mean times lost on the log scale, and the rule for the largest allowed tau.
# Per arm, survival's own summary(survfit, rmean = tau) is recorded alongside: for
# survival 3.5 its rmean and se(rmean) use the same formula as survRM2's rmst1.
suppressPackageStartupMessages({
  library(survival)
  library(jsonlite)
})
invisible(Sys.setlocale("LC_COLLATE", "C"))
out_json <- "tests/reference/expected/rmst.json"
data_dir <- "tests/reference/data"

write_exact <- function(df, name) {
  out <- df
  for (nm in names(out)) if (is.double(out[[nm]])) out[[nm]] <- sprintf("%.17g", out[[nm]])
  write.csv(out, file.path(data_dir, paste0("rmst_", name, ".csv")), row.names = FALSE,
            quote = TRUE, na = "")
}

# survRM2 rmst1: area under the KM curve up to tau; variance sum over times <= tau of
# (area from t_i to tau)^2 d_i / (n_i (n_i - d_i)), 0 where n_i = d_i
rmst_one_arm <- function(time, status, tau, alpha = 0.05) {
  ft <- survfit(Surv(time, status) ~ 1)
  idx <- ft$time <= tau
  wk_time <- sort(c(ft$time[idx], tau))
  wk_surv <- ft$surv[idx]
  wk_n_risk <- ft$n.risk[idx]
  wk_n_event <- ft$n.event[idx]
  areas <- diff(c(0, wk_time)) * c(1, wk_surv)
  rmst <- sum(areas)
  wk_var <- ifelse((wk_n_risk - wk_n_event) == 0, 0,
                   wk_n_event / (wk_n_risk * (wk_n_risk - wk_n_event)))
  wk_var <- c(wk_var, 0)
  rmst_var <- sum(cumsum(rev(areas[-1]))^2 * rev(wk_var)[-1])
  se <- sqrt(rmst_var)
  z <- qnorm(1 - alpha / 2)
  tb <- summary(ft, rmean = tau)$table
  list(rmst = rmst, se = se, var = rmst_var, lower = rmst - z * se, upper = rmst + z * se,
       rmtl = tau - rmst, n = length(time), events = sum(status),
       survfit_rmean = unname(tb["rmean"]), survfit_se = unname(tb["se(rmean)"]))
}

# survRM2 rmst2's check of tau: the largest allowed value (its cases 1-4)
tau_max <- function(time, status, arm) {
  tt0 <- max(time[arm == 0]); ss0 <- min(status[arm == 0][time[arm == 0] == tt0])
  tt1 <- max(time[arm == 1]); ss1 <- min(status[arm == 1][time[arm == 1] == tt1])
  ttmax <- max(tt0, tt1); ttmin <- min(tt0, tt1)
  if (ss0 == 1 && ss1 == 1) return(ttmax)
  if ((ss0 == 0 && ss1 == 1 && tt0 >= tt1) || (ss0 == 1 && ss1 == 0 && tt1 > tt0)) return(ttmax)
  if ((ss0 == 1 && ss1 == 0 && tt0 >= tt1) || (ss0 == 0 && ss1 == 1 && tt1 > tt0)) return(ttmin)
  ttmin  # both censored
}

contrast <- function(wk1, wk0, alpha = 0.05) {
  z <- qnorm(1 - alpha / 2)
  d <- wk1$rmst - wk0$rmst
  d_se <- sqrt(wk1$var + wk0$var)
  lr <- log(wk1$rmst) - log(wk0$rmst)
  lr_se <- sqrt(wk1$var / wk1$rmst^2 + wk0$var / wk0$rmst^2)
  lt <- log(wk1$rmtl) - log(wk0$rmtl)
  lt_se <- sqrt(wk1$var / wk1$rmtl^2 + wk0$var / wk0$rmtl^2)
  list(
    difference = list(estimate = d, se = d_se, lower = d - z * d_se, upper = d + z * d_se,
                      p = 2 * pnorm(-abs(d) / d_se)),
    ratio = list(estimate = exp(lr), se_log = lr_se, lower = exp(lr - z * lr_se),
                 upper = exp(lr + z * lr_se), p = 2 * pnorm(-abs(lr) / lr_se)),
    rmtl_ratio = list(estimate = exp(lt), se_log = lt_se, lower = exp(lt - z * lt_se),
                      upper = exp(lt + z * lt_se), p = 2 * pnorm(-abs(lt) / lt_se)))
}

rmst_case <- function(name, d, reference, taus, note = "") {
  write_exact(d, name)
  levs <- sort(unique(d$group))
  other <- setdiff(levs, reference)
  arm <- as.integer(d$group != reference)  # survRM2: arm 1 minus arm 0
  out_tau <- list()
  for (tau in taus) {
    per <- list()
    for (l in levs) per[[l]] <- rmst_one_arm(d$time[d$group == l], d$status[d$group == l], tau)
    out_tau[[length(out_tau) + 1]] <- c(list(tau = tau, groups = per),
                                         contrast(per[[other]], per[[reference]]))
  }
  list(note = note, data = paste0("rmst_", name), reference = reference, other = other,
       tau_max = tau_max(d$time, d$status, arm), by_tau = out_tau)
}

cases <- list()
lu <- data.frame(time = lung$time, status = lung$status - 1, group = as.character(lung$sex))
cases$lung_sex <- rmst_case("lung", lu, "1", c(365, 730, 965),
                            note = "both arms end censored: tau <= min of the last times (965)")
ve <- data.frame(time = veteran$time, status = veteran$status, group = as.character(veteran$trt))
cases$veteran_trt <- rmst_case("veteran", ve, "1", c(100, 365, 600),
                               note = "both arms end with a death: tau up to 999; arm 1's curve is 0 after 553")
ml <- data.frame(time = aml$time, status = aml$status, group = as.character(aml$x))
cases$aml <- rmst_case("aml", ml, "Maintained", c(30, 100, 161),
                       note = "the shorter arm (45) ends with an event, the longer censored: tau up to 161")
mg <- data.frame(time = mgus2$futime, status = mgus2$death, group = as.character(mgus2$sex))
cases$mgus2_os_sex <- rmst_case("mgus2_os", mg, "F", c(120, 240),
                                note = "the shorter arm (F, 394) ends censored: tau <= 394")

meta <- list(r = R.version.string, survival = format(packageVersion("survival")),
             jsonlite = format(packageVersion("jsonlite")),
             survRM2 = "1.0-4 formulas, written out in this script (not installed)",
             script = "tests/reference/r/rmst.R")
write_json(list(meta = meta, cases = cases), out_json, digits = NA, auto_unbox = TRUE,
           null = "null", na = "null", pretty = FALSE)
cat("wrote", out_json, "\n")
