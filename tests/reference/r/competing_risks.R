# Reference fixtures for mmrwe.stats.cuminc (cmprsk::cuminc, timepoints) and
# mmrwe.stats.finegray (cmprsk::crr, and coxph for the cause-specific helper).
# Run from the repository root: Rscript tests/reference/r/competing_risks.R
# Writes tests/reference/data/cr_<name>.csv (the public data sets as analysed) and
# tests/reference/expected/competing_risks.json.
#
# Data: survival::mgus2 (progression to a plasma-cell malignancy vs death without it),
# survival::pbc (death vs liver transplant), and the example of cmprsk's own cuminc help page
# (simulated with set.seed(2)), once as drawn and once rounded to create ties.
suppressPackageStartupMessages({
  library(survival)
  library(cmprsk)
  library(jsonlite)
})
invisible(Sys.setlocale("LC_COLLATE", "C"))  # group levels sorted as Python sorts strings
out_json <- "tests/reference/expected/competing_risks.json"
data_dir <- "tests/reference/data"
Z95 <- qnorm(0.975)

# full-precision numbers in the CSVs (write.csv keeps only 15 significant digits)
write_exact <- function(df, name) {
  out <- df
  for (nm in names(out)) if (is.double(out[[nm]])) out[[nm]] <- sprintf("%.17g", out[[nm]])
  write.csv(out, file.path(data_dir, paste0("cr_", name, ".csv")), row.names = FALSE,
            quote = TRUE, na = "")
}

# The CI conventions, written out here from their definitions (cmprsk prints none):
# log(-log): est^exp(-+ z sqrt(var) / (est log est)), NA where est is 0 or 1;
# plain: est -+ z sqrt(var), clipped to [0, 1].
ci_loglog <- function(est, var, z = Z95) {
  ok <- est > 0 & est < 1
  se <- sqrt(var)
  lo <- ifelse(ok, est^exp(-z * se / (est * log(est))), NA)
  hi <- ifelse(ok, est^exp(z * se / (est * log(est))), NA)
  list(lower = I(lo), upper = I(hi))
}
ci_plain <- function(est, var, z = Z95) {
  se <- sqrt(var)
  list(lower = I(pmax(est - z * se, 0)), upper = I(pmin(est + z * se, 1)))
}

cuminc_case <- function(name, d, times, ticks, group = TRUE, strata = FALSE, rho = 0,
                        note = "") {
  write_exact(d, name)
  args <- list(ftime = d$time, fstatus = d$cause, rho = rho)
  if (group) args$group <- d$group
  if (strata) args$strata <- d$strata
  fit <- do.call(cuminc, args)
  tests <- fit$Tests
  curves <- fit[names(fit) != "Tests"]
  tp <- timepoints(fit, times)
  glev <- if (group) levels(as.factor(d$group)) else "1"
  causes <- sort(unique(d$cause[d$cause != 0]))
  out_groups <- list()
  for (g in glev) {
    gd <- if (group) d[d$group == g, ] else d
    per_cause <- list()
    for (k in causes) {
      key <- paste(g, k)
      cv <- curves[[key]]
      # timepoints() sorts and de-duplicates the times; the rows are named "group cause"
      est_t <- unname(tp$est[key, ])
      var_t <- unname(tp$var[key, ])
      per_cause[[as.character(k)]] <- list(
        time = I(cv$time), est = I(cv$est), var = I(cv$var),
        at = list(times = I(sort(unique(times))), est = I(est_t), var = I(var_t),
                  loglog = ci_loglog(est_t, var_t), plain = ci_plain(est_t, var_t)),
        loglog = ci_loglog(cv$est, cv$var), plain = ci_plain(cv$est, cv$var))
    }
    out_groups[[g]] <- list(
      n = nrow(gd), max_time = max(gd$time),
      n_risk = I(vapply(ticks, function(t) sum(gd$time >= t), numeric(1))),
      causes = per_cause)
  }
  gray <- NULL
  if (!is.null(tests)) {
    gray <- list()
    for (k in rownames(tests)) {
      st <- tests[k, "stat"]
      df <- tests[k, "df"]
      gray[[k]] <- list(stat = st, df = df, pv = tests[k, "pv"],
                        p_upper = pchisq(st, df, lower.tail = FALSE))
    }
  }
  list(note = note, data = paste0("cr_", name), group = group, strata = strata, rho = rho,
       levels = I(glev), causes = I(causes), ticks = I(ticks), groups = out_groups,
       gray = gray)
}

crr_case <- function(name, d, terms, failcode = 1, cengroup = NULL, note = "") {
  write_exact(d, name)
  cov <- as.matrix(d[, terms, drop = FALSE])
  args <- list(ftime = d$time, fstatus = d$cause, cov1 = cov, failcode = failcode,
               cencode = 0)
  if (!is.null(cengroup)) args$cengroup <- d[[cengroup]]
  fit <- do.call(crr, args)
  se <- sqrt(diag(fit$var))
  z <- fit$coef / se
  s <- summary(fit)
  list(
    note = note, data = paste0("cr_", name), terms = I(terms), failcode = failcode,
    cengroup = cengroup, n = fit$n, converged = fit$converged,
    coef = I(unname(fit$coef)), se = I(unname(se)), z = I(unname(z)),
    p = I(unname(2 * pnorm(-abs(z)))),
    shr = I(unname(exp(fit$coef))),
    lower = I(unname(s$conf.int[, 3])), upper = I(unname(s$conf.int[, 4])),
    var = lapply(seq_len(nrow(fit$var)), function(i) I(unname(fit$var[i, ]))),
    inf = lapply(seq_len(nrow(fit$inf)), function(i) I(unname(fit$inf[i, ]))),
    score = I(unname(fit$score)),
    loglik = fit$loglik, loglik_null = fit$loglik.null,
    lr = unname(s$logtest["test"]),
    uftime = I(fit$uftime), bfitj = I(fit$bfitj))
}

cs_cox_case <- function(name, d, terms, event = 1) {
  f <- as.formula(paste("Surv(time, cause ==", event, ") ~", paste(terms, collapse = " + ")))
  fit <- coxph(f, data = d, ties = "efron")
  list(data = paste0("cr_", name), terms = I(terms), event = event,
       coef = I(unname(coef(fit))), se = I(unname(sqrt(diag(fit$var)))),
       loglik = I(fit$loglik), n = fit$n, events = fit$nevent)
}

cuminc_cases <- list()
crr_cases <- list()
cox_cases <- list()

# --- mgus2: progression (1) vs death without progression (2), months ---------------------
m <- mgus2
m$time <- ifelse(m$pstat == 0, m$futime, m$ptime)
m$cause <- ifelse(m$pstat == 0, 2 * m$death, 1)
m$group <- as.character(m$sex)
m$male <- as.integer(m$sex == "M")
mg <- m[, c("time", "cause", "group", "male", "age", "hgb", "mspike")]
cuminc_cases$mgus2_sex <- cuminc_case(
  "mgus2", mg, times = c(0, 12, 60, 120, 240, 360, 424, 500), ticks = c(0, 60, 120, 240, 360),
  note = "1384 patients, monthly times with many ties; Gray's test by sex")
cuminc_cases$mgus2_overall <- cuminc_case(
  "mgus2", mg, times = c(60, 120, 240), ticks = c(0, 120, 240), group = FALSE,
  note = "no group: one curve per cause, no test")
cuminc_cases$mgus2_sex_rho1 <- cuminc_case(
  "mgus2", mg, times = c(120), ticks = c(0), rho = 1,
  note = "Gray's test with weight (1 - F(t-))^1")
mgc <- na.omit(mg[, c("time", "cause", "male", "age", "mspike")])
rownames(mgc) <- NULL
crr_cases$mgus2_progression <- crr_case(
  "mgus2_cc", mgc, c("age", "male", "mspike"), failcode = 1,
  note = "complete cases for mspike; progression as the event of interest")
crr_cases$mgus2_death <- crr_case(
  "mgus2_cc", mgc, c("age", "male"), failcode = 2,
  note = "death without progression as the event of interest")
cox_cases$mgus2_progression <- cs_cox_case("mgus2_cc", mgc, c("age", "male", "mspike"), 1)
cox_cases$mgus2_death <- cs_cox_case("mgus2_cc", mgc, c("age", "male"), 2)

# --- pbc: death (2) vs transplant (1), days --------------------------------------------------
p <- pbc[, c("time", "status", "trt", "sex", "age", "bili", "albumin")]
p$cause <- p$status
p$group <- as.character(p$sex)
p$log_bili <- log(p$bili)
pb <- p[, c("time", "cause", "group", "trt", "age", "log_bili", "albumin")]
cuminc_cases$pbc_sex <- cuminc_case(
  "pbc", pb, times = c(365, 1826, 3652, 4795, 5000), ticks = c(0, 1000, 2000, 3000, 4000),
  note = "418 patients; causes 1 = transplant, 2 = death")
pr <- pb[1:312, ]
pr$strata <- pr$group
pr$group <- as.character(pr$trt)
cuminc_cases$pbc_trt_strata_sex <- cuminc_case(
  "pbc_randomized", pr, times = c(1000, 3000), ticks = c(0, 2000), strata = TRUE,
  note = "randomized patients; Gray's test of treatment stratified by sex")
crr_cases$pbc_death <- crr_case(
  "pbc_randomized", pr, c("age", "log_bili", "albumin"), failcode = 2,
  note = "death with transplant competing")
crr_cases$pbc_death_cengroup <- crr_case(
  "pbc_randomized", pr, c("age", "log_bili", "albumin"), failcode = 2, cengroup = "trt",
  note = "censoring distribution estimated within treatment arms (cengroup)")
crr_cases$pbc_transplant <- crr_case(
  "pbc_randomized", pr, c("age", "log_bili"), failcode = 1,
  note = "transplant (19 events) as the event of interest")
cox_cases$pbc_death <- cs_cox_case("pbc_randomized", pr, c("age", "log_bili", "albumin"), 2)

# --- cmprsk's help-page example: 3 groups, 2 causes, 2 strata ----------------------------
set.seed(2)
ss <- rexp(100)
gg <- factor(sample(1:3, 100, replace = TRUE), 1:3, c("a", "b", "c"))
cc <- sample(0:2, 100, replace = TRUE)
strt <- sample(1:2, 100, replace = TRUE)
ex <- data.frame(time = ss, cause = cc, group = as.character(gg), strata = strt)
cuminc_cases$example_strata <- cuminc_case(
  "example", ex, times = c(0.1, 0.5, 1, 2, 10), ticks = c(0, 0.5, 1, 2), strata = TRUE,
  note = "cmprsk ?cuminc example: 3 groups, stratified tests")
set.seed(20240611)
ex$time <- round(ex$time * 4) / 4  # quarter units: ties within and across causes and censoring
ex$x1 <- round(rnorm(100), 2)
ex$x2 <- rbinom(100, 1, 0.4)
cuminc_cases$example_ties <- cuminc_case(
  "example_ties", ex, times = c(0, 0.25, 0.5, 1, 1.5), ticks = c(0, 0.5, 1), strata = FALSE,
  note = "times rounded to quarters: tied events of both causes and censorings")
crr_cases$example_ties <- crr_case(
  "example_ties", ex, c("x1", "x2"), failcode = 1, note = "tied times")
crr_cases$example_ties_cengroup <- crr_case(
  "example_ties", ex, c("x1", "x2"), failcode = 2, cengroup = "group",
  note = "three censoring groups, tied times")

# --- small edge cases ---------------------------------------------------------------------------
e1 <- data.frame(time = c(1, 2, 3, 4, 5, 6, 2, 7), cause = c(1, 2, 1, 0, 0, 0, 1, 0),
                 group = c("a", "a", "a", "b", "b", "b", "c", "c"))
cuminc_cases$edge_all_censored_group <- cuminc_case(
  "edge_all_censored", e1, times = c(0, 2, 5, 6, 7, 8), ticks = c(0, 3, 6),
  note = "group b has no event of any kind; group c one event")
e2 <- data.frame(time = c(5, 6, 1, 2, 3), cause = c(1, 0, 0, 0, 2), group = c("a", "a", "b", "b", "b"))
cuminc_cases$edge_singular <- cuminc_case(
  "edge_singular", e2, times = c(1, 5), ticks = c(0), note = paste(
    "nobody of group b is at risk at the only event of cause 1: the score variance is 0",
    "and cuminc reports the statistic as -1"))

meta <- list(r = R.version.string, cmprsk = format(packageVersion("cmprsk")),
             survival = format(packageVersion("survival")),
             jsonlite = format(packageVersion("jsonlite")),
             script = "tests/reference/r/competing_risks.R", z = Z95)
write_json(list(meta = meta, cuminc = cuminc_cases, crr = crr_cases, cs_cox = cox_cases),
           out_json, digits = NA, auto_unbox = TRUE, null = "null", na = "null", pretty = FALSE)
cat("wrote", out_json, "\n")
