# Reference values for mmrwe.stats.weighting (propensity score, IPT weights, balance).
# Run from the repository root: Rscript tests/reference/r/weighting.R
# Writes tests/reference/data/weighting_<case>.csv and tests/reference/expected/weighting.json.
#
# Propensity score: glm(treat ~ ..., family = binomial) (R itself).
# WeightIt and cobalt are not installed here, so their formulas are transcribed from their
# sources (read at github.com/ngreifer/WeightIt and github.com/ngreifer/cobalt):
#   WeightIt R/functions_for_processing.R  .get_w_from_ps_internal_bin(), stabilize_w()
#   cobalt   R/utils.R                     col.w.m(), col.w.v(), check_if_zero()
#   cobalt   R/functions_for_processing.R  .s.d.denom_from_estimand(): ATE "pooled",
#            ATT the treated group, ATO "weighted"; .compute_s.d.denom()
#   cobalt   R/balance-summary.R           col_w_smd(std = TRUE), col_w_vr()
# Trimming rules are mmrwe's (documented in src/mmrwe/stats/weighting.py): bounds keep
# lower <= ps <= upper; quantile q keeps ps >= quantile(ps[treated], q) and
# ps <= quantile(ps[control], 1 - q) (type 7, Stürmer et al. 2010).
suppressMessages({library(survival); library(jsonlite)})
out_json <- "tests/reference/expected/weighting.json"
data_dir <- "tests/reference/data"

write_exact <- function(df, path) {
  out <- df
  for (nm in names(out)) if (is.double(out[[nm]])) out[[nm]] <- sprintf("%.17g", out[[nm]])
  write.csv(out, path, row.names = FALSE, quote = TRUE)
}

# ---- WeightIt ----
get_w_from_ps <- function(ps, treat, estimand) {
  w <- rep(1, length(treat))
  i0 <- which(treat == 0)
  if (estimand == "ATE") { w[i0] <- 1 / (1 - ps[i0]); w[-i0] <- 1 / ps[-i0] }
  if (estimand == "ATT") { w[i0] <- ps[i0] / (1 - ps[i0]) }            # .p2o(ps)
  if (estimand == "ATO") { w[i0] <- ps[i0]; w[-i0] <- 1 - ps[-i0] }
  w
}
stabilize_w <- function(weights, treat) {
  tab <- vapply(c(0, 1), function(x) mean(treat == x), numeric(1L))
  weights * tab[treat + 1]
}
ESS <- function(w) sum(w)^2 / sum(w^2)

# ---- cobalt ----
check_if_zero <- function(x, tolerance = sqrt(.Machine$double.eps)) abs(x) < tolerance
col.w.m <- function(mat, w) colSums(mat * w) / sum(w)
col.w.v <- function(mat, w, bin.vars) {
  w <- w / sum(w)
  var <- numeric(ncol(mat))
  if (any(!bin.vars)) {
    m <- colSums(w * mat[, !bin.vars, drop = FALSE])
    x <- sweep(mat[, !bin.vars, drop = FALSE], 2, m)
    var[!bin.vars] <- colSums(w * x * x) / (1 - sum(w^2))
  }
  if (any(bin.vars)) {
    means <- colSums(w * mat[, bin.vars, drop = FALSE])
    var[bin.vars] <- means * (1 - means)
  }
  var
}
sd_denom <- function(mat, treat, rule, bin.vars, weights) {
  one <- rep(1, nrow(mat))
  switch(rule,
         pooled = sqrt((col.w.v(mat[treat == 1, , drop = FALSE], one[treat == 1], bin.vars) +
                          col.w.v(mat[treat == 0, , drop = FALSE], one[treat == 0], bin.vars)) / 2),
         treated = sqrt(col.w.v(mat[treat == 1, , drop = FALSE], one[treat == 1], bin.vars)),
         weighted = sqrt(col.w.v(mat, weights, bin.vars)))
}
col_w_smd <- function(mat, treat, weights, denoms) {
  m1 <- col.w.m(mat[treat == 1, , drop = FALSE], weights[treat == 1])
  m0 <- col.w.m(mat[treat == 0, , drop = FALSE], weights[treat == 0])
  diffs <- m1 - m0
  to.sd <- !check_if_zero(diffs)
  smd <- diffs
  smd[to.sd] <- diffs[to.sd] / denoms[to.sd]
  list(m1 = m1, m0 = m0, diff = diffs, smd = smd)
}
col_w_vr <- function(mat, treat, weights, bin.vars) {
  v1 <- col.w.v(mat[treat == 1, , drop = FALSE], weights[treat == 1], bin.vars)
  v0 <- col.w.v(mat[treat == 0, , drop = FALSE], weights[treat == 0], bin.vars)
  out <- v1 / v0
  out[bin.vars] <- NA
  out
}

# balance columns as mmrwe names them: numeric "x"; two-valued numeric other than 0/1
# "x=<second value>"; character covariates "x=<level>" for each level
balance_matrix <- function(d, covs) {
  cols <- list(); bin <- logical(0)
  for (v in covs) {
    x <- d[[v]]
    if (is.character(x)) {
      lev <- sort(unique(x), method = "radix")
      for (l in lev) { cols[[paste0(v, "=", l)]] <- as.numeric(x == l); bin <- c(bin, TRUE) }
    } else {
      u <- sort(unique(x))
      if (length(u) == 2 && !all(u == c(0, 1))) {
        cols[[paste0(v, "=", format(u[2]))]] <- as.numeric(x == u[2]); bin <- c(bin, TRUE)
      } else {
        cols[[v]] <- as.numeric(x); bin <- c(bin, length(u) == 2)
      }
    }
  }
  m <- do.call(cbind, cols)
  colnames(m) <- names(cols)
  list(mat = m, bin = bin)
}

# model matrix as mmrwe builds it: character covariates as treatment-contrast dummies vs
# the first level in C-locale order, named "x=<level>"
model_frame <- function(d, covs) {
  mm <- list()
  for (v in covs) {
    x <- d[[v]]
    if (is.character(x)) {
      lev <- sort(unique(x), method = "radix")
      for (l in lev[-1]) mm[[paste0(v, "=", l)]] <- as.numeric(x == l)
    } else {
      u <- sort(unique(x))
      if (length(u) == 2 && !all(u == c(0, 1))) mm[[paste0(v, "=", format(u[2]))]] <- as.numeric(x == u[2])
      else mm[[v]] <- as.numeric(x)
    }
  }
  as.data.frame(mm, check.names = FALSE)
}

run_case <- function(name, d, covs, configs, full_weights) {
  treat <- d$treat
  X <- model_frame(d, covs)
  fit <- glm(treat ~ ., family = binomial, data = cbind(treat = treat, X))
  ps <- unname(fitted(fit))
  bm <- balance_matrix(d, covs)
  write_exact(d, file.path(data_dir, paste0("weighting_", name, ".csv")))
  out_cfg <- list()
  for (cfg in configs) {
    est <- cfg$estimand
    keep <- rep(TRUE, length(ps))
    lim <- NULL
    if (!is.null(cfg$trim_bounds)) {
      lim <- cfg$trim_bounds
      keep <- ps >= lim[1] & ps <= lim[2]
    }
    if (!is.null(cfg$trim_quantile)) {
      q <- cfg$trim_quantile
      lim <- c(unname(quantile(ps[treat == 1], q, type = 7)),
               unname(quantile(ps[treat == 0], 1 - q, type = 7)))
      keep <- ps >= lim[1] & ps <= lim[2]
    }
    w <- get_w_from_ps(ps, treat, est)
    if (isTRUE(cfg$stabilize)) {
      # marginal treatment proportion among the analysed units
      w <- w * ifelse(treat == 1, mean(treat[keep] == 1), mean(treat[keep] == 0))
    }
    w[!keep] <- 0
    rule <- c(ATE = "pooled", ATT = "treated", ATO = "weighted")[[est]]
    den <- sd_denom(bm$mat, treat, rule, bm$bin, w)
    one <- rep(1, length(w))
    b0 <- col_w_smd(bm$mat, treat, one, den)
    b1 <- col_w_smd(bm$mat, treat, w, den)
    vr0 <- col_w_vr(bm$mat, treat, one, bm$bin)
    vr1 <- col_w_vr(bm$mat, treat, w, bm$bin)
    bal <- list()
    for (j in seq_len(ncol(bm$mat))) {
      bal[[colnames(bm$mat)[j]]] <- list(
        binary = bm$bin[j], sd_denominator = den[j],
        mean_treated_before = b0$m1[j], mean_control_before = b0$m0[j],
        mean_treated_after = b1$m1[j], mean_control_after = b1$m0[j],
        diff_before = b0$diff[j], diff_after = b1$diff[j],
        smd_before = b0$smd[j], smd_after = b1$smd[j],
        var_ratio_before = if (bm$bin[j]) NULL else vr0[j],
        var_ratio_after = if (bm$bin[j]) NULL else vr1[j])
    }
    wk <- w[keep]
    summ <- function(v) list(n = length(v), sum = sum(v), min = min(v), max = max(v), ess = ESS(v))
    out_cfg[[cfg$id]] <- list(
      estimand = est, stabilize = isTRUE(cfg$stabilize),
      trim_bounds = cfg$trim_bounds, trim_quantile = cfg$trim_quantile,
      trim_limits = if (is.null(lim)) NULL else I(lim),
      n_trimmed = sum(!keep),
      overall = summ(wk), treated = summ(w[keep & treat == 1]), control = summ(w[keep & treat == 0]),
      weights = if (full_weights) I(w) else NULL,
      balance = bal)
  }
  list(data = paste0("weighting_", name), covariates = I(covs),
       model_names = I(c("(Intercept)", names(X))),
       coef = I(unname(coef(fit))), se = I(unname(sqrt(diag(vcov(fit))))),
       ps = I(ps), configs = out_cfg)
}

cases <- list()

# survival::rotterdam: chemotherapy (1) vs none (0) in primary breast cancer, n = 2982;
# chemotherapy went to younger patients with more nodes (strong confounding)
rd <- survival::rotterdam
rot <- data.frame(treat = rd$chemo, age = rd$age, meno = rd$meno,
                  size = as.character(rd$size), grade = rd$grade, nodes = rd$nodes,
                  pgr = rd$pgr, er = rd$er)
cases$rotterdam <- run_case("rotterdam", rot, c("age", "meno", "size", "grade", "nodes", "pgr", "er"),
  list(list(id = "ATE", estimand = "ATE"),
       list(id = "ATT", estimand = "ATT"),
       list(id = "ATO", estimand = "ATO"),
       list(id = "ATE_stabilized", estimand = "ATE", stabilize = TRUE),
       list(id = "ATE_trim_bounds", estimand = "ATE", trim_bounds = c(0.05, 0.95)),
       list(id = "ATE_trim_quantile", estimand = "ATE", trim_quantile = 0.05),
       list(id = "ATT_trim_quantile", estimand = "ATT", trim_quantile = 0.01)),
  full_weights = FALSE)

# survival::pbc randomised patients (complete cases): placebo (trt 2) vs D-penicillamine (1)
pb <- na.omit(survival::pbc[!is.na(survival::pbc$trt), c("trt", "age", "sex", "edema", "bili", "albumin", "stage")])
pbc2 <- data.frame(treat = as.integer(pb$trt == 2), age = pb$age, sex = as.character(pb$sex),
                   edema = c("none", "mild", "severe")[match(pb$edema, c(0, 0.5, 1))],
                   bili = pb$bili, albumin = pb$albumin, stage = pb$stage)
cases$pbc <- run_case("pbc", pbc2, c("age", "sex", "edema", "bili", "albumin", "stage"),
  list(list(id = "ATE", estimand = "ATE"), list(id = "ATT", estimand = "ATT"),
       list(id = "ATO", estimand = "ATO"),
       list(id = "ATE_stabilized", estimand = "ATE", stabilize = TRUE)),
  full_weights = TRUE)

# datasets::mtcars: manual transmission (am = 1) by weight and horsepower, n = 32,
# propensity scores close to 0 and 1 (positivity)
mt <- data.frame(treat = mtcars$am, wt = mtcars$wt, hp = mtcars$hp)
cases$mtcars <- run_case("mtcars", mt, c("wt", "hp"),
  list(list(id = "ATE", estimand = "ATE"), list(id = "ATO", estimand = "ATO"),
       list(id = "ATE_trim_bounds", estimand = "ATE", trim_bounds = c(0.1, 0.9))),
  full_weights = TRUE)

write_json(list(meta = list(r = R.version.string, survival = format(packageVersion("survival")),
                            jsonlite = format(packageVersion("jsonlite")),
                            script = "tests/reference/r/weighting.R",
                            sources = "glm (R); WeightIt and cobalt formulas transcribed"),
                cases = cases),
           out_json, digits = NA, auto_unbox = TRUE, null = "null")
cat("wrote", out_json, "\n")
