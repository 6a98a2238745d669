# End-to-end reference for competing risks and RMST: two public data sets turned into the
# canonical patient table (dates from a fixed origin), analysed in R the way the specs
# tests/e2e/mgus2/study.toml and tests/e2e/pbc/study.toml ask mmrwe to.
# Run from the repository root: Rscript tests/reference/r/e2e_competing.R
# Writes tests/e2e/{mgus2,pbc}/patients.csv and tests/reference/expected/e2e_competing.json.
#
# Everything R computes below is read back from the canonical tables it wrote (dates as
# text), so the fixture checks mmrwe's whole path: reading, PFS/OS derivation, the kind of
# PFS end, the time unit, and the estimators.
#
# * survival::mgus2 (Mayo Clinic, 1384 patients with MGUS): progression to a plasma-cell
#   malignancy vs death without it; times in months, turned into days (x 30.4375, rounded).
# * survival::pbc (Mayo Clinic PBC trial, 418 patients): death vs liver transplant (written as
#   the progression date: the competing event); times in days.
#
# cmprsk::cuminc / timepoints give the cumulative incidence and Gray's test; cmprsk::crr the
# Fine-Gray model; survival::coxph the cause-specific Cox model; the RMST per group is
# summary(survfit, rmean = tau) and the contrasts are survRM2 1.0-4's rmst2 formulas (not
# packaged for Debian; written out here as in tests/reference/r/rmst.R, from its source
# R/rmst1.R and R/rmst2.R read at github.com/cran/survRM2).
suppressPackageStartupMessages({
  library(survival)
  library(cmprsk)
  library(jsonlite)
})
invisible(Sys.setlocale("LC_COLLATE", "C"))  # group levels sorted as Python sorts strings
DAYS_PER_MONTH <- 30.4375

# --- the canonical tables --------------------------------------------------------------------
date_if <- function(keep, d) ifelse(keep, format(d), "")  # "" = no such event

m <- mgus2
origin <- as.Date("1990-01-01") + (m$id * 7) %% 400  # staggered entry
prog_days <- round(m$ptime * DAYS_PER_MONTH)
fu_days <- round(m$futime * DAYS_PER_MONTH)
dir.create("tests/e2e/mgus2", showWarnings = FALSE, recursive = TRUE)
write.csv(data.frame(
  patient_id = sprintf("M%04d", m$id), center = "Mayo Clinic",
  start_date = format(origin),
  progression_date = date_if(m$pstat == 1, origin + prog_days),
  death_date = date_if(m$death == 1, origin + fu_days),
  last_followup_date = format(origin + fu_days),
  age = m$age, sex = as.character(m$sex), hgb = m$hgb, creat = m$creat, mspike = m$mspike
), "tests/e2e/mgus2/patients.csv", row.names = FALSE, na = "")

p <- pbc
origin <- as.Date("1980-01-01") + (p$id * 11) %% 500
dir.create("tests/e2e/pbc", showWarnings = FALSE, recursive = TRUE)
write.csv(data.frame(
  patient_id = sprintf("P%03d", p$id), center = "Mayo Clinic",
  start_date = format(origin),
  progression_date = date_if(p$status == 1, origin + p$time),
  death_date = date_if(p$status == 2, origin + p$time),
  last_followup_date = format(origin + p$time),
  trt = p$trt, age = p$age, sex = p$sex, albumin = p$albumin, bili = p$bili,
  edema = p$edema
), "tests/e2e/pbc/patients.csv", row.names = FALSE, na = "")

# --- read back, derive PFS (first of progression, death; progression wins a tie) and OS ----
canonical <- function(file, unit_days) {
  d <- read.csv(file, colClasses = "character", na.strings = "")
  day <- function(x) as.numeric(as.Date(x) - as.Date(d$start_date))
  prog <- day(d$progression_date); death <- day(d$death_date); lfu <- day(d$last_followup_date)
  prog_first <- !is.na(prog) & (is.na(death) | prog <= death)
  pfs_days <- ifelse(prog_first, prog, ifelse(!is.na(death), death, lfu))
  cause <- ifelse(prog_first, 1, ifelse(!is.na(death), 2, 0))  # 1 progression, 2 death
  os_days <- ifelse(!is.na(death), death, lfu)
  data.frame(d, pfs = pfs_days / unit_days, cause = cause, os = os_days / unit_days,
             os_event = as.integer(!is.na(death)), stringsAsFactors = FALSE)
}

# --- cmprsk::cuminc with timepoints, both causes, Gray's tests ------------------------------
ci_loglog <- function(est, var, z) {
  ok <- !is.na(est) & est > 0 & est < 1
  se <- sqrt(var)
  list(lower = I(ifelse(ok, est^exp(-z * se / (est * log(est))), NA)),
       upper = I(ifelse(ok, est^exp(z * se / (est * log(est))), NA)))
}
ci_plain <- function(est, var, z) {
  se <- sqrt(var)
  list(lower = I(pmax(est - z * se, 0)), upper = I(pmin(est + z * se, 1)))
}

cuminc_case <- function(d, event, by, times, ticks, conf_type = "log-log", level = 0.95,
                        strata = NULL, rho = 0) {
  keep <- !is.na(d[[by]])
  if (!is.null(strata)) keep <- keep & !is.na(d[[strata]])
  dk <- d[keep, ]
  args <- list(ftime = dk$pfs, fstatus = dk$cause, group = dk[[by]], rho = rho, cencode = 0)
  if (!is.null(strata)) args$strata <- dk[[strata]]
  fit <- do.call(cuminc, args)
  z <- qnorm(1 - (1 - level) / 2)
  ci <- if (conf_type == "log-log") ci_loglog else ci_plain
  competing <- 3 - event
  groups <- list()
  for (g in sort(unique(dk[[by]]))) {
    gd <- dk[dk[[by]] == g, ]
    per <- list()
    for (k in c(event, competing)) {
      key <- paste(g, k)
      tp <- timepoints(fit[key], times)
      est <- unname(tp$est[1, ]); var <- unname(tp$var[1, ])
      jumps <- sort(unique(gd$pfs[gd$cause == k]))
      cv <- if (length(jumps)) timepoints(fit[key], jumps) else list(est = matrix(0, 1, 0), var = matrix(0, 1, 0))
      per[[if (k == event) "event" else "competing"]] <- c(
        list(times = I(times), estimate = I(est), variance = I(var)), ci(est, var, z),
        list(n_risk = I(vapply(times, function(t) sum(gd$pfs >= t), numeric(1))),
             events = sum(gd$cause == k),
             curve = list(time = I(jumps), estimate = I(unname(cv$est[1, ])),
                          variance = I(unname(cv$var[1, ])))))
    }
    groups[[g]] <- list(
      n = nrow(gd), censored = sum(gd$cause == 0), max_time = max(gd$pfs),
      risk_table = list(times = I(ticks),
                        n_risk = I(vapply(ticks, function(t) sum(gd$pfs >= t), numeric(1)))),
      event = per$event, competing = per$competing)
  }
  tests <- fit$Tests
  gray <- function(k) {
    st <- tests[as.character(k), "stat"]; df <- tests[as.character(k), "df"]
    list(stat = st, df = df, p = pchisq(st, df, lower.tail = FALSE))
  }
  list(event = event, by = by, n = nrow(dk), n_excluded_missing = sum(!keep),
       groups = groups, gray = gray(event), gray_competing = gray(competing))
}

# --- cmprsk::crr and the cause-specific coxph -------------------------------------------------
crr_case <- function(d, event, formula, names, cengroup = NULL, level = 0.95) {
  mf <- model.frame(formula, d, na.action = na.omit)
  x <- model.matrix(formula, mf)[, -1, drop = FALSE]
  colnames(x) <- names  # mmrwe's names: numeric terms as is, dummies "term=level"
  dk <- d[as.integer(rownames(mf)), ]
  args <- list(ftime = dk$pfs, fstatus = dk$cause, cov1 = x, failcode = event, cencode = 0)
  if (!is.null(cengroup)) args$cengroup <- dk[[cengroup]]
  fit <- do.call(crr, args)
  z <- qnorm(1 - (1 - level) / 2)
  se <- sqrt(diag(fit$var))
  b <- unname(fit$coef)
  cs <- coxph(Surv(dk$pfs, dk$cause == event) ~ x, ties = "efron")
  cse <- sqrt(diag(vcov(cs)))
  cb <- unname(coef(cs))
  coefs <- list(); cs_coefs <- list()
  for (j in seq_along(b)) {
    coefs[[colnames(x)[j]]] <- list(
      coef = b[j], se = se[[j]], shr = exp(b[j]), lower = exp(b[j] - z * se[[j]]),
      upper = exp(b[j] + z * se[[j]]), z = b[j] / se[[j]], p = 2 * pnorm(-abs(b[j] / se[[j]])))
    cs_coefs[[colnames(x)[j]]] <- list(
      coef = cb[j], se = unname(cse[j]), hr = exp(cb[j]), lower = exp(cb[j] - z * cse[j]),
      upper = exp(cb[j] + z * cse[j]), p = 2 * pnorm(-abs(cb[j] / cse[j])))
  }
  list(event = event, n = fit$n, n_excluded_missing = nrow(d) - fit$n,
       events = sum(dk$cause == event), competing_events = sum(dk$cause == 3 - event),
       converged = fit$converged, loglik = fit$loglik, loglik_null = fit$loglik.null,
       coefficients = coefs, cause_specific = cs_coefs, cs_events = cs$nevent)
}

# --- RMST per group (survfit rmean; survRM2 rmst1) and survRM2 rmst2's contrasts -------------
rmst_arm <- function(time, status, tau, z) {
  ft <- survfit(Surv(time, status) ~ 1)
  tb <- summary(ft, rmean = tau)$table
  r <- unname(tb["rmean"]); se <- unname(tb["se(rmean)"])
  list(rmst = r, se = se, variance = se^2, lower = r - z * se, upper = r + z * se,
       rmtl = tau - r, n = length(time), events = sum(status))
}
tau_max <- function(time, status, group) {
  last <- tapply(time, group, max)
  ends_event <- sapply(names(last), function(g) min(status[group == g & time == last[[g]]]) == 1)
  min(max(last), min(c(Inf, last[!ends_event])))  # survRM2's cases 1-4, for any number of groups
}
rmst_case <- function(time, status, group, tau, reference = NULL, level = 0.95) {
  keep <- !is.na(group)
  time <- time[keep]; status <- status[keep]; group <- group[keep]
  z <- qnorm(1 - (1 - level) / 2)
  levs <- sort(unique(group))
  per <- list()
  for (l in levs) per[[l]] <- rmst_arm(time[group == l], status[group == l], tau, z)
  out <- list(tau = tau, n = length(time), n_excluded_missing = sum(!keep),
              tau_max = tau_max(time, status, group), groups = per)
  if (length(levs) == 2) {
    a <- per[[setdiff(levs, reference)]]; b <- per[[reference]]  # survRM2: arm 1 vs arm 0
    d <- a$rmst - b$rmst; dse <- sqrt(a$variance + b$variance)
    lr <- log(a$rmst / b$rmst); lrse <- sqrt(a$variance / a$rmst^2 + b$variance / b$rmst^2)
    lt <- log(a$rmtl / b$rmtl); ltse <- sqrt(a$variance / a$rmtl^2 + b$variance / b$rmtl^2)
    out$difference <- list(estimate = d, se = dse, lower = d - z * dse, upper = d + z * dse,
                           p = 2 * pnorm(-abs(d) / dse))
    out$ratio <- list(estimate = exp(lr), se = lrse, lower = exp(lr - z * lrse),
                      upper = exp(lr + z * lrse), p = 2 * pnorm(-abs(lr) / lrse))
    out$rmtl_ratio <- list(estimate = exp(lt), se = ltse, lower = exp(lt - z * ltse),
                           upper = exp(lt + z * ltse), p = 2 * pnorm(-abs(lt) / ltse))
  }
  out
}

# --- mgus2: the spec tests/e2e/mgus2/study.toml (months) ---------------------------------------
mg <- canonical("tests/e2e/mgus2/patients.csv", DAYS_PER_MONTH)
mg$age <- as.numeric(mg$age); mg$hgb <- as.numeric(mg$hgb)
mg$age_ge_70 <- ifelse(mg$age >= 70, ">=70", "<70")
ticks_mg <- seq(0, floor(max(mg$pfs) / 60) * 60, by = 60)  # [km] risk_table_step = 60
mgus2_ref <- list(
  cuminc = list(
    cuminc_case(mg, 1, "sex", c(12, 60, 120, 240, 360), ticks_mg),
    cuminc_case(mg, 2, "sex", c(60, 120), ticks_mg, conf_type = "plain", level = 0.9,
                strata = "age_ge_70", rho = 1)),
  finegray = list(
    crr_case(mg, 1, ~ age + sex + hgb, c("age", "sex=M", "hgb")),
    crr_case(mg, 2, ~ age + sex, c("age", "sex=M"), cengroup = "sex")),
  rmst = list(
    rmst_case(mg$os, mg$os_event, mg$sex, 120, reference = "F"),
    rmst_case(mg$pfs, as.integer(mg$cause > 0), rep("all", nrow(mg)), 240),
    rmst_case(mg$os, mg$os_event, mg$sex, 500, reference = "F")))  # beyond the follow-up

# --- pbc: the spec tests/e2e/pbc/study.toml (days) ---------------------------------------------
pb <- canonical("tests/e2e/pbc/patients.csv", 1)
pb$age <- as.numeric(pb$age); pb$albumin <- as.numeric(pb$albumin)
ticks_pb <- seq(0, floor(max(pb$pfs) / 1000) * 1000, by = 1000)  # risk_table_step = 1000
pbc_ref <- list(
  cuminc = list(
    cuminc_case(pb, 2, "edema", c(1000, 2000, 3000, 4000), ticks_pb),
    cuminc_case(pb, 1, "trt", c(1000, 3000), ticks_pb, strata = "sex")),
  finegray = list(crr_case(pb, 2, ~ age + albumin + edema,
                           c("age", "albumin", "edema=0.5", "edema=1"))),
  rmst = list(rmst_case(pb$os, pb$os_event, pb$trt, 3000, reference = "1")))

meta <- list(r = R.version.string, survival = format(packageVersion("survival")),
             cmprsk = format(packageVersion("cmprsk")),
             jsonlite = format(packageVersion("jsonlite")),
             survRM2 = "1.0-4 formulas, written out in this script (not installed)",
             script = "tests/reference/r/e2e_competing.R")
write_json(list(meta = meta, mgus2 = mgus2_ref, pbc = pbc_ref),
           "tests/reference/expected/e2e_competing.json", digits = NA, auto_unbox = TRUE,
           null = "null", na = "null", pretty = FALSE)
cat("wrote tests/reference/expected/e2e_competing.json\n")
