# End-to-end reference for the comparative analyses ([[iptw]], [[maic]]): survival's
# `rotterdam` (2982 breast-cancer patients; hormonal therapy given by clinical choice, so
# confounded by age, menopause, nodes, ...) turned into a canonical patient table, analysed in
# R the way tests/e2e/rotterdam/study.toml asks mmrwe to.
# Run from the repository root: Rscript tests/reference/r/e2e_comparative.R
# Writes tests/e2e/rotterdam/patients.csv and tests/reference/expected/e2e_comparative.json.
#
# R itself: glm (propensity score), coxph(weights =, robust = TRUE), survfit(weights =).
# WeightIt, cobalt and EValue are not installed here; their formulas are transcribed as in
# tests/reference/r/weighting.R and evalue.R (WeightIt get_w_from_ps / stabilize_w; cobalt
# col.w.m, col.w.v, col_w_smd with the estimand's SD denominator; EValue evalues.HR).
# Changes to the public data, all deterministic: dates from a staggered origin; `er` set
# missing for every 40th patient (pid %% 40 == 0) so the complete-case rule is exercised;
# pgr_status = "positive" when pgr >= 10 (a binary column whose weighted share the MAIC
# reports, an arithmetic check only).
suppressMessages({library(survival); library(jsonlite)})
dir.create("tests/e2e/rotterdam", showWarnings = FALSE, recursive = TRUE)

d <- rotterdam
n <- nrow(d)
origin <- as.Date("1990-01-01") + (d$pid * 11) %% 700
d$patient_id <- sprintf("R%04d", d$pid)
d$er[d$pid %% 40 == 0] <- NA
d$hormon_txt <- ifelse(d$hormon == 1, "yes", "no")
d$size_txt <- as.character(d$size)
d$pgr_status <- ifelse(d$pgr >= 10, "positive", "negative")
out <- data.frame(
  patient_id = d$patient_id, center = "Rotterdam", start_date = format(origin),
  progression_date = ifelse(d$recur == 1, format(origin + d$rtime), ""),
  death_date = ifelse(d$death == 1, format(origin + d$dtime), ""),
  last_followup_date = format(origin + d$dtime),
  age = d$age, meno = d$meno, size = d$size_txt, grade = d$grade, nodes = d$nodes,
  pgr = d$pgr, er = d$er, hormon = d$hormon_txt, pgr_status = d$pgr_status)
write.csv(out, "tests/e2e/rotterdam/patients.csv", row.names = FALSE, na = "")

# Endpoints as the contract defines them, in months (days / 30.4375).
dpm <- 30.4375
os_t <- d$dtime / dpm
os_e <- d$death == 1
pfs_t <- ifelse(d$recur == 1, d$rtime, d$dtime) / dpm
pfs_e <- d$recur == 1 | d$death == 1
endpoint <- list(OS = list(t = os_t, e = os_e), PFS = list(t = pfs_t, e = pfs_e))
landmarks <- c(12, 24, 60)

# ---- WeightIt / cobalt / EValue transcriptions (see weighting.R, evalue.R) ----
get_w_from_ps <- function(ps, treat, estimand) {
  w <- rep(1, length(treat))
  i0 <- treat == 0
  if (estimand == "ATE") { w[i0] <- 1 / (1 - ps[i0]); w[!i0] <- 1 / ps[!i0] }
  if (estimand == "ATT") { w[i0] <- ps[i0] / (1 - ps[i0]) }
  if (estimand == "ATO") { w[i0] <- ps[i0]; w[!i0] <- 1 - ps[!i0] }
  w
}
col.w.m <- function(mat, w) colSums(mat * w) / sum(w)
col.w.v <- function(mat, w, bin) {
  w <- w / sum(w)
  v <- numeric(ncol(mat))
  m <- colSums(w * mat)
  x <- sweep(mat, 2, m)
  v[!bin] <- (colSums(w * x * x) / (1 - sum(w^2)))[!bin]
  v[bin] <- (m * (1 - m))[bin]
  v
}
threshold <- function(x) { if (x <= 1) x <- 1 / x; x + sqrt(x * (x - 1)) }
toRR_HR <- function(hr, rare) if (rare) hr else (1 - 0.5^sqrt(hr)) / (1 - 0.5^sqrt(1 / hr))
evalue_hr <- function(hr, lo, hi, rare) {
  rr <- toRR_HR(hr, rare); rlo <- toRR_HR(lo, rare); rhi <- toRR_HR(hi, rare)
  ci <- if (rr > 1) { if (rlo < 1) 1 else threshold(rlo) } else { if (rhi > 1) 1 else threshold(rhi) }
  list(point = threshold(rr), ci = ci)
}

# Complete cases on the treatment and covariates of the propensity model.
covs <- c("age", "meno", "size", "grade", "nodes", "pgr", "er")
cc <- complete.cases(d[, covs])
dd <- d[cc, ]
treat <- as.integer(dd$hormon == 1)
size <- factor(dd$size_txt, levels = c("<=20", "20-50", ">50"))
X <- data.frame(age = dd$age, meno = dd$meno,
                `size=20-50` = as.numeric(size == "20-50"), `size=>50` = as.numeric(size == ">50"),
                `grade=3` = as.numeric(dd$grade == 3), nodes = dd$nodes, pgr = dd$pgr, er = dd$er,
                check.names = FALSE)
psfit <- glm(treat ~ ., family = binomial, data = cbind(treat = treat, X))
ps <- unname(fitted(psfit))
# balance columns as mmrwe shows them: one row per level of a categorical covariate
B <- cbind(age = dd$age, meno = dd$meno, `size=<=20` = as.numeric(size == "<=20"),
           `size=20-50` = as.numeric(size == "20-50"), `size=>50` = as.numeric(size == ">50"),
           `grade=3` = as.numeric(dd$grade == 3), nodes = dd$nodes, pgr = dd$pgr, er = dd$er)
bin <- c(FALSE, TRUE, TRUE, TRUE, TRUE, TRUE, FALSE, FALSE, FALSE)

iptw_case <- function(estimand, ep, stabilize = FALSE, trim_bounds = NULL, trim_quantile = NULL) {
  keep <- rep(TRUE, length(ps))
  lim <- NULL
  if (!is.null(trim_bounds)) { lim <- trim_bounds; keep <- ps >= lim[1] & ps <= lim[2] }
  if (!is.null(trim_quantile)) {
    lim <- c(unname(quantile(ps[treat == 1], trim_quantile, type = 7)),
             unname(quantile(ps[treat == 0], 1 - trim_quantile, type = 7)))
    keep <- ps >= lim[1] & ps <= lim[2]
  }
  w <- get_w_from_ps(ps, treat, estimand)
  if (stabilize) w <- w * ifelse(treat == 1, mean(treat[keep] == 1), mean(treat[keep] == 0))
  w[!keep] <- 0
  one <- rep(1, length(w))
  denom <- switch(estimand,
    ATE = sqrt((col.w.v(B[treat == 1, ], one[treat == 1], bin) + col.w.v(B[treat == 0, ], one[treat == 0], bin)) / 2),
    ATT = sqrt(col.w.v(B[treat == 1, ], one[treat == 1], bin)),
    ATO = sqrt(col.w.v(B, w, bin)))
  smd <- function(wt) {
    diff <- col.w.m(B[treat == 1, ], wt[treat == 1]) - col.w.m(B[treat == 0, ], wt[treat == 0])
    ifelse(abs(diff) < sqrt(.Machine$double.eps), diff, diff / denom)
  }
  wk <- w[keep]
  res <- list(estimand = estimand, endpoint = ep, n = length(ps), n_treated = sum(treat),
              weights = list(sum = sum(wk), min = min(wk), max = max(wk), ess = sum(wk)^2 / sum(wk^2),
                             ess_treated = sum(w[keep & treat == 1])^2 / sum(w[keep & treat == 1]^2),
                             ess_control = sum(w[keep & treat == 0])^2 / sum(w[keep & treat == 0]^2)),
              n_trimmed = sum(!keep), trim_limits = if (is.null(lim)) NULL else I(lim),
              smd_before = as.list(smd(one)), smd_after = as.list(smd(w)),
              ps_min = min(ps), ps_max = max(ps))
  # outcome models on the patients with a positive weight (coxph refuses weight 0)
  pos <- w > 0
  t <- endpoint[[ep]]$t[cc][pos]; e <- endpoint[[ep]]$e[cc][pos]; wt <- w[pos]
  g <- factor(ifelse(treat[pos] == 1, "yes", "no"), levels = c("no", "yes"))
  fit <- coxph(Surv(t, e) ~ g, weights = wt, robust = TRUE, ties = "efron")
  sc <- summary(fit)
  rare <- mean(e) < 0.15
  ev <- evalue_hr(sc$conf.int[1, "exp(coef)"], sc$conf.int[1, "lower .95"], sc$conf.int[1, "upper .95"], rare)
  res$cox <- list(coef = unname(coef(fit)), robust_se = unname(sqrt(vcov(fit)[1, 1])),
                  se_model = unname(sqrt(fit$naive.var[1, 1])), hr = unname(sc$conf.int[1, 1]),
                  lower = unname(sc$conf.int[1, 3]), upper = unname(sc$conf.int[1, 4]),
                  p = unname(sc$coefficients[1, "Pr(>|z|)"]), n = fit$n, events = fit$nevent)
  res$evalue <- ev
  res$rare <- rare
  km <- survfit(Surv(t, e) ~ g, weights = wt, conf.type = "log-log")
  q <- quantile(km, probs = 0.5)
  sm <- summary(km, times = landmarks, extend = TRUE)
  km_raw <- survfit(Surv(t, e) ~ g, conf.type = "log-log")
  smr <- summary(km_raw, times = landmarks, extend = TRUE)
  res$km <- list()
  for (lv in c("no", "yes")) {
    k <- km[paste0("g=", lv)]
    sel <- sm$strata == paste0("g=", lv)
    res$km[[lv]] <- list(
      time = I(k$time), surv = I(k$surv), lower = I(k$lower), upper = I(k$upper),
      weighted_n_risk = I(k$n.risk),
      median = unname(q$quantile[paste0("g=", lv), 1]),
      median_lower = unname(q$lower[paste0("g=", lv), 1]),
      median_upper = unname(q$upper[paste0("g=", lv), 1]),
      landmark_surv = I(sm$surv[sel]), landmark_lower = I(sm$lower[sel]),
      landmark_upper = I(sm$upper[sel]), landmark_std_err = I(sm$std.err[sel]),
      landmark_weighted_n_risk = I(sm$n.risk[sel]),
      landmark_n_risk = I(smr$n.risk[smr$strata == paste0("g=", lv)]))
  }
  res
}

iptw <- list(
  iptw_case("ATE", "OS"),
  iptw_case("ATT", "PFS"),
  iptw_case("ATO", "OS"),
  iptw_case("ATE", "PFS", stabilize = TRUE, trim_bounds = c(0.05, 0.95)),
  iptw_case("ATE", "OS", trim_quantile = 0.05)
)
ps_coef <- as.list(coef(psfit))

# ---- MAIC (NICE DSU TSD 18 estimating equations, solved by Newton; see maic.R) ----
# Illustrative targets (not a real trial): written into study.toml by hand, mirrored here.
maic_case <- function(covcols, target, ep = NULL, prop = NULL, landmarks_m = c(), at = NULL) {
  M <- do.call(cbind, covcols)
  Xc <- sweep(M, 2, target)
  a <- rep(0, ncol(Xc))
  for (it in 1:100) {
    w <- as.vector(exp(Xc %*% a))
    gr <- colSums(Xc * w)
    if (max(abs(gr)) / sum(w) < 1e-13) break
    a <- a - solve(crossprod(Xc * sqrt(w)), gr)
  }
  w <- as.vector(exp(Xc %*% a))
  res <- list(ess = sum(w)^2 / sum(w^2), weighted_moments = I(unname(colSums(M * w) / sum(w))),
              max_rescaled = max(w / sum(w) * length(w)), min_rescaled = min(w / sum(w) * length(w)))
  if (!is.null(prop)) res$weighted_proportion <- weighted.mean(prop, w)
  if (!is.null(ep)) {
    km <- survfit(Surv(endpoint[[ep]]$t, endpoint[[ep]]$e) ~ 1, weights = w, conf.type = "log-log")
    q <- quantile(km, probs = 0.5)
    res$median <- unname(q$quantile); res$median_lower <- unname(q$lower)
    res$median_upper <- unname(q$upper)
    tt <- c(landmarks_m, at)
    sm <- summary(km, times = tt, extend = TRUE)
    res$landmark_surv <- I(sm$surv); res$landmark_lower <- I(sm$lower); res$landmark_upper <- I(sm$upper)
  }
  res
}
size_gt50 <- as.numeric(d$size_txt == ">50")
maic <- list(
  pfs_median = maic_case(list(age = d$age, `age^2` = d$age^2, meno = d$meno, nodes = d$nodes,
                              size = size_gt50),
                         c(57, 57^2 + 12^2, 0.5, 3.5, 0.12), ep = "PFS", landmarks_m = c(12, 24)),
  os_at_60 = maic_case(list(age = d$age, meno = d$meno), c(52, 0.45), ep = "OS", at = 60),
  pgr_positive = maic_case(list(age = d$age, nodes = d$nodes), c(56, 2.2),
                           prop = as.numeric(d$pgr_status == "positive"))
)

res <- list(meta = list(r = R.version.string, survival = format(packageVersion("survival")),
                        data = "survival::rotterdam"),
            n = n, n_complete = sum(cc), ps_coef = ps_coef, iptw = iptw, maic = maic)
# not pretty-printed: the weighted curves of five analyses make it large
write_json(res, "tests/reference/expected/e2e_comparative.json", digits = NA, auto_unbox = TRUE)
