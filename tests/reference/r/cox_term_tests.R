# Reference fixtures for mmrwe.stats.cox_terms: one test per model term (a factor's dummies
# tested jointly) and subgroup hazard ratios with the effect x subgroup interaction test,
# survival 3.5 and car 3.1. Run from the repository root:
#   Rscript tests/reference/r/cox_term_tests.R
# Writes tests/reference/data/coxt_<case>.csv, coxs_<case>.csv and
# tests/reference/expected/cox_term_tests.json.
#
# Per term it records four R answers, to document how they differ:
#   car::Anova(fit)                         type II likelihood-ratio tests (refits; respects
#                                           marginality: a main effect is tested without the
#                                           interactions that contain it). car refuses LR
#                                           with strata or a robust variance and substitutes
#                                           Wald (recorded as car_lr_test).
#   car::Anova(fit, test.statistic = "Wald") type II Wald tests (vcov = robust when robust)
#   drop1(fit, test = "Chisq")              LR of dropping each term from the full model,
#                                           keeping strata (equals type II LR without
#                                           interactions)
#   anova(fit)                              sequential LR tests (each term added in order).
#                                           survival 3.5's anova.coxph refits the smaller
#                                           models without the case weights, so for a
#                                           weighted fit its table mixes weighted and
#                                           unweighted log-likelihoods; the weighted
#                                           sequence is recorded as sequential_weighted.
source("tests/reference/r/cox_common.R")
suppressPackageStartupMessages(library(car))

tab <- function(a, stat_col, df_col, p_col) {
  out <- list()
  for (r in rownames(a)) {
    if (r %in% c("<none>", "NULL")) next
    out[[r]] <- list(chisq = a[r, stat_col], df = a[r, df_col], p = a[r, p_col])
  }
  out
}

quiet <- function(expr) {
  msgs <- character(0)
  val <- withCallingHandlers(expr,
    warning = function(w) { msgs <<- c(msgs, conditionMessage(w)); invokeRestart("muffleWarning") },
    message = function(m) { msgs <<- c(msgs, conditionMessage(m)); invokeRestart("muffleMessage") })
  list(value = val, messages = msgs)
}

term_case <- function(name, rhs, data, ties = "efron", start_var = NULL, strata_var = NULL,
                      weights_var = NULL, note = "") {
  lhs <- if (is.null(start_var)) "Surv(time, status)" else paste0("Surv(", start_var, ", time, status)")
  f <- paste(lhs, "~", rhs)
  if (!is.null(strata_var)) f <- paste0(f, " + strata(", strata_var, ")")
  args <- list(formula = as.formula(f), data = data, ties = ties, x = TRUE, y = TRUE)
  if (!is.null(weights_var)) args$weights <- data[[weights_var]]
  fit <- do.call(coxph, args)
  X <- fit$x
  stopifnot(nrow(X) == nrow(data))
  data[["__y"]] <- fit$y
  col_term <- character(ncol(X))
  for (lab in names(fit$assign)) col_term[fit$assign[[lab]]] <- lab
  csv <- data.frame(time = data$time, status = as.integer(data$status))
  if (!is.null(start_var)) csv$start <- as.double(data[[start_var]])
  if (!is.null(strata_var)) csv$strata <- data[[strata_var]]
  if (!is.null(weights_var)) csv$weights <- as.double(data[[weights_var]])
  cols <- paste0("c", seq_len(ncol(X)))
  for (j in seq_along(cols)) csv[[cols[j]]] <- as.double(X[, j])
  write_exact(csv, file.path(data_dir, paste0(name, ".csv")))
  car_lr <- quiet(Anova(fit, type = "II"))
  car_w <- quiet(Anova(fit, type = "II", test.statistic = "Wald"))
  lr_cols <- colnames(car_lr$value)
  car_lr_test <- if ("LR Chisq" %in% lr_cols) "lr" else "wald"
  car_lr_tab <- if (car_lr_test == "lr") tab(car_lr$value, "LR Chisq", "Df", "Pr(>Chisq)") else
    tab(car_lr$value, "Chisq", "Df", "Pr(>Chisq)")
  seq_w <- NULL
  if (!is.null(weights_var) && is.null(fit$naive.var)) {
    # the sequential LR tests with the weights kept in every model
    labs <- names(fit$assign)
    ll <- fit$loglik[1]
    dfp <- 0
    seq_w <- list()
    for (k in seq_along(labs)) {
      kc <- unlist(fit$assign[1:k])
      fk <- coxph(data[["__y"]] ~ X[, kc, drop = FALSE], weights = data[[weights_var]],
                  ties = ties)
      dfk <- sum(!is.na(coef(fk)))
      seq_w[[labs[k]]] <- list(chisq = 2 * (fk$loglik[2] - ll), df = dfk - dfp,
                               p = pchisq(2 * (fk$loglik[2] - ll), dfk - dfp, lower.tail = FALSE))
      ll <- fk$loglik[2]
      dfp <- dfk
    }
  }
  d1 <- tryCatch(drop1(fit, test = "Chisq"), error = function(e) NULL)
  sq <- tryCatch(anova(fit), error = function(e) NULL)  # refuses robust variances
  list(note = note, data = name, call = f, ties = ties, has_start = !is.null(start_var),
       has_strata = !is.null(strata_var), has_weights = !is.null(weights_var),
       robust = !is.null(fit$naive.var), columns = I(cols), r_names = I(colnames(X)),
       terms = I(col_term), term_order = I(names(fit$assign)),
       loglik = I(fit$loglik), coef = I(unname(coef(fit))),
       car_lr_test = car_lr_test, car_lr = car_lr_tab, car_lr_messages = I(car_lr$messages),
       car_wald = tab(car_w$value, "Chisq", "Df", "Pr(>Chisq)"),
       drop1 = if (is.null(d1)) NULL else tab(d1, "LRT", "Df", "Pr(>Chi)"),
       sequential = if (is.null(sq)) NULL else tab(sq, "Chisq", "Df", "Pr(>|Chi|)"),
       sequential_weighted = seq_w)
}

cases <- list()
vet <- veteran
vet$celltype <- relevel(vet$celltype, ref = "large")
vet$trt <- factor(vet$trt)
vet$fw <- 1 + (seq_len(nrow(vet)) %% 3)
cases$veteran <- term_case("coxt_veteran", "celltype + trt + karno + age", vet,
                           note = "4-level factor; no interactions: type II = drop1")
cases$veteran_breslow <- term_case("coxt_veteran_breslow", "karno + celltype + trt", vet,
                                   ties = "breslow")
cases$veteran_interaction <- term_case("coxt_veteran_interaction", "trt * celltype + karno", vet,
                                       note = "marginality: trt and celltype tested without trt:celltype")
cases$veteran_freq_weights <- term_case("coxt_veteran_freq_weights", "celltype + trt + karno", vet,
                                        weights_var = "fw")

col <- subset(colon, etype == 2)
col <- na.omit(col[, c("time", "status", "rx", "sex", "age", "nodes", "differ")])
rownames(col) <- NULL
col$differ <- factor(col$differ, labels = c("well", "moderate", "poor"))
cases$colon <- term_case("coxt_colon", "rx + sex + age + nodes + differ", col)
col$w <- with(col, {
  ps <- fitted(glm(I(rx != "Obs") ~ sex + age + nodes, family = binomial))
  ifelse(rx != "Obs", 1 / ps, 1 / (1 - ps))
})
cases$colon_iptw <- term_case("coxt_colon_iptw", "rx + sex + age", col, weights_var = "w",
                              note = "IPTW: robust variance, car substitutes Wald for LR")

pb <- pbc[1:312, c("time", "status", "age", "edema", "bili", "albumin", "stage")]
pb$status <- as.integer(pb$status == 2)
pb <- na.omit(pb)
rownames(pb) <- NULL
pb$edema <- factor(pb$edema)
pb$stage <- factor(pb$stage)
pb$log_bili <- log(pb$bili)
cases$pbc <- term_case("coxt_pbc", "age + edema + log_bili + albumin + stage", pb)

lung2 <- na.omit(lung[, c("inst", "time", "status", "age", "sex", "ph.ecog")])
lung2$status <- lung2$status - 1L
rownames(lung2) <- NULL
lung2$ph.ecog <- factor(lung2$ph.ecog)
cases$lung_strata <- term_case("coxt_lung_strata", "ph.ecog + age", lung2, strata_var = "sex",
                               note = "strata: car gives Wald, drop1 gives LR within strata")

hr <- survival::heart
names(hr)[names(hr) == "stop"] <- "time"
names(hr)[names(hr) == "event"] <- "status"
cases$heart <- term_case("coxt_heart", "age + year + surgery + transplant", hr,
                         start_var = "start")

# --- subgroups ------------------------------------------------------------------------------
# Per level: coxph(Surv ~ effect) on the level's rows (Wald CI and p, robust when the weights
# are not whole numbers, as coxph's default). Interaction: anova(coxph(~ effect + by),
# coxph(~ effect * by)) (LR); with a robust variance anova refuses, so the Wald test of the
# effect:by coefficients (car::Anova(fit, test.statistic = "Wald")).
subgroup_case <- function(name, data, effect, by, ties = "efron", weights_var = NULL) {
  d <- data.frame(time = data$time, status = as.integer(data$status),
                  effect = data[[effect]], by = data[[by]])
  if (!is.null(weights_var)) d$w <- as.double(data[[weights_var]])
  write_exact(d, file.path(data_dir, paste0(name, ".csv")))
  d$effect <- factor(d$effect)
  d$by <- factor(d$by)
  lev_out <- list()
  for (lev in levels(d$by)) {
    s <- d[d$by == lev, ]
    s$effect <- droplevels(s$effect)
    entry <- list(level = lev, n = nrow(s), events = sum(s$status))
    if (sum(s$status) == 0 || nlevels(s$effect) < 2) {
      entry$estimable <- FALSE
    } else {
      r <- if (is.null(weights_var)) quiet(coxph(Surv(time, status) ~ effect, data = s, ties = ties)) else
        quiet(coxph(Surv(time, status) ~ effect, data = s, ties = ties, weights = w))
      sm <- summary(r$value)
      entry$estimable <- TRUE
      entry$coef <- unname(coef(r$value))
      entry$hr <- sm$conf.int[1, 1]
      entry$lower <- sm$conf.int[1, 3]
      entry$upper <- sm$conf.int[1, 4]
      entry$p <- sm$coefficients[1, ncol(sm$coefficients)]
      entry$robust <- !is.null(r$value$naive.var)
      entry$warnings <- I(r$messages)
    }
    lev_out[[length(lev_out) + 1]] <- entry
  }
  if (is.null(weights_var)) {
    f1 <- quiet(coxph(Surv(time, status) ~ effect + by, data = d, ties = ties))
    f2 <- quiet(coxph(Surv(time, status) ~ effect * by, data = d, ties = ties))
    a <- anova(f1$value, f2$value)
    inter <- list(test = "lr", chisq = a[2, "Chisq"], df = a[2, "Df"], p = a[2, "Pr(>|Chi|)"])
    msgs <- c(f1$messages, f2$messages)
  } else {
    f2 <- quiet(coxph(Surv(time, status) ~ effect * by, data = d, ties = ties, weights = w))
    a <- Anova(f2$value, test.statistic = "Wald")
    inter <- list(test = "wald", chisq = a["effect:by", "Chisq"], df = a["effect:by", "Df"],
                  p = a["effect:by", "Pr(>Chisq)"])
    msgs <- f2$messages
  }
  list(data = name, effect = effect, by = by, ties = ties, has_weights = !is.null(weights_var),
       effect_levels = I(levels(d$effect)), levels = lev_out,
       interaction = inter, interaction_warnings = I(msgs))
}

subgroups <- list()
subgroups$veteran_trt_by_celltype <- subgroup_case("coxs_veteran_trt_celltype", veteran, "trt",
                                                   "celltype")
subgroups$colon_sex_by_rx <- subgroup_case("coxs_colon_sex_rx", col, "sex", "rx",
                                           ties = "breslow")
# ph.ecog 3 holds one patient (one effect level: not estimable)
lung3 <- na.omit(lung[, c("inst", "time", "status", "age", "sex", "ph.ecog")])
lung3$status <- lung3$status - 1L
subgroups$lung_sex_by_ecog <- subgroup_case("coxs_lung_sex_ecog", lung3, "sex", "ph.ecog")
# a subgroup without events, and one where only one sex has events (monotone likelihood)
lung4 <- lung3
lung4$grp <- ifelse(lung4$inst == 1, "none", ifelse(lung4$age < 60, "young", "old"))
lung4$status[lung4$grp == "none"] <- 0L
lung4$grp[lung4$inst %in% c(2, 3)] <- "mono"
lung4$status[lung4$grp == "mono" & lung4$sex == 2] <- 0L
subgroups$lung_sex_by_grp <- subgroup_case("coxs_lung_sex_grp", lung4, "sex", "grp")
# IPTW weights (robust variance): per-level robust CIs, Wald interaction test
subgroups$colon_sex_by_rx_iptw <- subgroup_case("coxs_colon_sex_rx_iptw", col, "sex", "rx",
                                                weights_var = "w")

write_json(list(meta = c(meta_info("tests/reference/r/cox_term_tests.R"),
                         car = format(packageVersion("car"))),
                cases = cases, subgroups = subgroups),
           "tests/reference/expected/cox_term_tests.json", digits = NA, auto_unbox = TRUE,
           null = "null", na = "null", pretty = TRUE)
cat("wrote tests/reference/expected/cox_term_tests.json\n")
