# Reference fixtures for mmrwe.stats.cox (coxph) and mmrwe.stats.coxzph (cox.zph), survival 3.5.
# Run from the repository root: Rscript tests/reference/r/cox_fit.R
# Writes tests/reference/data/cox_<case>.csv (time, status, [strata], [cluster], then the model
# matrix columns named as mmrwe names them: "variable=level" for factor dummies) and
# tests/reference/expected/cox_fit.json.
suppressMessages({library(survival); library(jsonlite)})
out_json <- "tests/reference/expected/cox_fit.json"
data_dir <- "tests/reference/data"

# full-precision numbers in the CSVs (write.csv keeps only 15 significant digits)
write_exact <- function(df, path) {
  out <- df
  for (nm in names(out)) if (is.double(out[[nm]])) out[[nm]] <- sprintf("%.17g", out[[nm]])
  write.csv(out, path, row.names = FALSE, quote = TRUE)
}

rows <- function(m) lapply(seq_len(nrow(m)), function(i) I(unname(as.numeric(m[i, ]))))

# mmrwe's column names: factor dummies "variable=level", other columns as R names them
mm_names <- function(fit) {
  X <- fit$x
  out <- colnames(X)
  xl <- fit$xlevels
  for (lab in names(fit$assign)) {
    if (!is.null(xl) && lab %in% names(xl)) {
      j <- fit$assign[[lab]]
      # treatment contrasts: R's column is paste0(lab, level)
      out[j] <- paste0(lab, "=", substring(colnames(X)[j], nchar(lab) + 1))
    }
  }
  out
}

zph_table <- function(fit, tr, terms = TRUE) {
  z <- tryCatch(cox.zph(fit, transform = tr, terms = terms), error = function(e) {message("zph: ", conditionMessage(e)); NULL})
  if (is.null(z)) return(NULL)
  tb <- z$table
  nt <- nrow(tb) - 1
  terms <- list()
  for (i in seq_len(nt)) terms[[rownames(tb)[i]]] <- list(chisq = tb[i, 1], df = tb[i, 2], p = tb[i, 3])
  list(terms = terms, global = list(chisq = tb[nt + 1, 1], df = tb[nt + 1, 2], p = tb[nt + 1, 3]))
}

run_case <- function(name, formula, data, ties = "efron", robust = NULL, cluster_var = NULL,
                     strata_var = NULL, control = coxph.control(), note = "") {
  warns <- character(0)
  fit <- withCallingHandlers(
    {
      if (!is.null(cluster_var)) {
        f2 <- update(formula, as.formula(paste(". ~ . + cluster(", cluster_var, ")")))
        coxph(f2, data = data, ties = ties, control = control, x = TRUE, model = TRUE)
      } else if (!is.null(robust)) {
        coxph(formula, data = data, ties = ties, robust = robust, control = control, x = TRUE, model = TRUE)
      } else {
        coxph(formula, data = data, ties = ties, control = control, x = TRUE, model = TRUE)
      }
    },
    warning = function(w) { warns <<- c(warns, conditionMessage(w)); invokeRestart("muffleWarning") })
  X <- fit$x
  nms <- mm_names(fit)
  stopifnot(nrow(X) == nrow(data))  # the data sets hold complete cases only
  # the CSV holds the raw times (before aeqSurv); R's fit$y holds the merged ones
  csv <- data.frame(time = data$time, status = as.integer(data$status))
  if (!is.null(strata_var)) csv$strata <- data[[strata_var]]
  if (!is.null(cluster_var)) csv$cluster <- data[[cluster_var]]
  for (j in seq_along(nms)) csv[[nms[j]]] <- X[, j]
  write_exact(csv, file.path(data_dir, paste0("cox_", name, ".csv")))
  df <- sum(!is.na(coef(fit)))
  lr <- -2 * (fit$loglik[1] - fit$loglik[2])
  is_rob <- !is.null(fit$naive.var)
  nvar <- if (is_rob) fit$naive.var else fit$var
  tests <- list(
    lr = list(chisq = lr, df = df, p = pchisq(lr, df, lower.tail = FALSE)),
    wald = list(chisq = unname(fit$wald.test), df = df, p = pchisq(unname(fit$wald.test), df, lower.tail = FALSE)),
    score = list(chisq = unname(fit$score), df = df, p = pchisq(unname(fit$score), df, lower.tail = FALSE)))
  if (!is.null(fit$rscore))
    tests$robust_score <- list(chisq = unname(fit$rscore), df = df,
                               p = pchisq(unname(fit$rscore), df, lower.tail = FALSE))
  s <- summary(fit)
  cf <- s$coefficients
  ci <- s$conf.int
  list(
    note = note, data = paste0("cox_", name), ties = ties, robust = is_rob,
    has_strata = !is.null(strata_var), has_cluster = !is.null(cluster_var),
    iter_max = control$iter.max,
    names = I(nms), r_names = I(colnames(X)),
    coef = I(unname(coef(fit))),
    se = I(unname(sqrt(diag(nvar)))),
    robust_se = if (is_rob) I(unname(sqrt(diag(fit$var)))) else NULL,
    z = I(unname(cf[, "z"])), p = I(unname(cf[, "Pr(>|z|)"])),
    lower = I(unname(ci[, 3])), upper = I(unname(ci[, 4])),
    var = rows(fit$var), naive_var = rows(nvar),
    loglik = I(fit$loglik), iter = fit$iter, n = fit$n, events = fit$nevent,
    tests = tests,
    concordance = unname(fit$concordance["concordance"]),
    concordance_se = unname(fit$concordance["std"]),
    concordance_counts = I(unname(fit$concordance[1:5])),
    warnings = I(warns),
    zph = list(km = zph_table(fit, "km"), rank = zph_table(fit, "rank"),
               identity = zph_table(fit, "identity"),
               km_columns = zph_table(fit, "km", terms = FALSE)))
}

cases <- list()

# --- lung -----------------------------------------------------------------------------------
lung2 <- na.omit(lung[, c("inst", "time", "status", "age", "sex", "ph.ecog")])
lung2$status <- lung2$status - 1L
rownames(lung2) <- NULL
cases$lung_efron <- run_case("lung_efron", Surv(time, status) ~ age + sex + ph.ecog, lung2)
cases$lung_breslow <- run_case("lung_breslow", Surv(time, status) ~ age + sex + ph.ecog, lung2,
                               ties = "breslow")
cases$lung_one_covariate <- run_case("lung_one_covariate", Surv(time, status) ~ age, lung2)
cases$lung_strata_inst <- run_case("lung_strata_inst",
                                   Surv(time, status) ~ age + sex + ph.ecog + strata(inst), lung2,
                                   strata_var = "inst",
                                   note = "18 strata: concordancefit takes its > 10 strata path")
cases$lung_cluster_inst <- run_case("lung_cluster_inst", Surv(time, status) ~ age + sex + ph.ecog,
                                    lung2, cluster_var = "inst")
cases$lung_robust <- run_case("lung_robust", Surv(time, status) ~ age + sex + ph.ecog, lung2,
                              robust = TRUE)
cases$lung_robust_breslow <- run_case("lung_robust_breslow",
                                      Surv(time, status) ~ age + sex + ph.ecog, lung2,
                                      ties = "breslow", robust = TRUE)
cases$lung_cluster_strata <- run_case("lung_cluster_strata",
                                      Surv(time, status) ~ age + ph.ecog + strata(sex), lung2,
                                      cluster_var = "inst", strata_var = "sex")

# heavily tied times: days rounded to months (~35 distinct times for 227 patients)
lung_tied <- lung2
lung_tied$time <- round(lung_tied$time / 30)
cases$lung_tied_efron <- run_case("lung_tied_efron", Surv(time, status) ~ age + sex + ph.ecog,
                                  lung_tied)
cases$lung_tied_breslow <- run_case("lung_tied_breslow", Surv(time, status) ~ age + sex + ph.ecog,
                                    lung_tied, ties = "breslow")

# near-tied times (aeqSurv): months from days, half of them perturbed by 1 part in 1e12
lung_near <- lung2
lung_near$time <- lung_near$time / 30.4375
odd <- seq(1, nrow(lung_near), by = 2)
lung_near$time[odd] <- lung_near$time[odd] * (1 + 1e-12)
cases$lung_near_ties <- run_case("lung_near_ties", Surv(time, status) ~ age + sex + ph.ecog,
                                 lung_near, note = "times differ by 1e-12 relative: merged by aeqSurv")

# everyone censored in one stratum
lung_cs <- lung2
lung_cs$status[lung_cs$sex == 2] <- 0L
cases$lung_stratum_all_censored <- run_case("lung_stratum_all_censored",
                                            Surv(time, status) ~ age + ph.ecog + strata(sex),
                                            lung_cs, strata_var = "sex")

# a covariate constant within one stratum (estimable from the other)
lung_cw <- lung2
lung_cw$cw <- ifelse(lung_cw$sex == 1, 0.5, lung_cw$age / 10)
cases$lung_const_in_one_stratum <- run_case("lung_const_in_one_stratum",
                                            Surv(time, status) ~ cw + ph.ecog + strata(sex),
                                            lung_cw, strata_var = "sex")

# redundant columns: constant within every stratum, constant overall, collinear -> NA
lung_na <- lung2
lung_na$cs <- ifelse(lung_na$sex == 1, 3, 7)
lung_na$k <- 5
lung_na$lin <- lung_na$age + 2 * lung_na$ph.ecog
cases$lung_singular_strata <- run_case("lung_singular_strata",
                                       Surv(time, status) ~ age + cs + ph.ecog + strata(sex),
                                       lung_na, strata_var = "sex",
                                       note = "cs is constant within each stratum: NA")
cases$lung_singular <- run_case("lung_singular", Surv(time, status) ~ age + k + ph.ecog + lin,
                                lung_na, note = "k constant, lin = age + 2 ph.ecog: both NA")

# ran out of iterations (iter.max = 2)
cases$lung_no_convergence <- run_case("lung_no_convergence",
                                      Surv(time, status) ~ age + sex + ph.ecog, lung2,
                                      control = coxph.control(iter.max = 2),
                                      note = "iter.max = 2: 'Ran out of iterations'")

# --- veteran: factor celltype with reference "large" ------------------------------------------
vet <- veteran
vet$celltype <- relevel(vet$celltype, ref = "large")
cases$veteran_celltype_ref <- run_case("veteran_celltype_ref",
                                       Surv(time, status) ~ celltype + trt + karno, vet)
cases$veteran_strata_breslow <- run_case("veteran_strata_breslow",
                                         Surv(time, status) ~ celltype + trt + karno + strata(prior),
                                         vet, ties = "breslow", strata_var = "prior")

# --- ovarian ------------------------------------------------------------------------------------
ov <- ovarian
names(ov)[names(ov) == "futime"] <- "time"
names(ov)[names(ov) == "fustat"] <- "status"
cases$ovarian <- run_case("ovarian", Surv(time, status) ~ age + resid.ds + rx + ecog.ps, ov)

# --- colon, death records -------------------------------------------------------------------------
col <- subset(colon, etype == 2)
col <- na.omit(col[, c("time", "status", "rx", "sex", "age", "nodes", "differ")])
rownames(col) <- NULL
cases$colon_death <- run_case("colon_death", Surv(time, status) ~ rx + sex + age + nodes, col)
cases$colon_death_breslow_strata <- run_case("colon_death_breslow_strata",
                                             Surv(time, status) ~ rx + age + nodes + strata(differ),
                                             col, ties = "breslow", strata_var = "differ")

# --- pbc (randomized patients), death as the event --------------------------------------------------
pb <- pbc[1:312, c("time", "status", "trt", "age", "edema", "bili", "albumin", "protime")]
pb$status <- as.integer(pb$status == 2)
pb <- na.omit(pb)
pb$log_bili <- log(pb$bili)
pb$log_albumin <- log(pb$albumin)
pb$log_protime <- log(pb$protime)
cases$pbc <- run_case("pbc", Surv(time, status) ~ age + edema + log_bili + log_albumin + log_protime,
                      pb)
cases$pbc_strata_trt <- run_case("pbc_strata_trt",
                                 Surv(time, status) ~ age + edema + log_bili + strata(trt), pb,
                                 strata_var = "trt")

# --- monotone likelihood: no events when x = 1 ----------------------------------------------------
set.seed(20240611)
nsep <- 60
sep <- data.frame(time = round(rexp(nsep, 0.1), 1) + 0.1, x = rep(0:1, each = nsep / 2),
                  z = round(rnorm(nsep), 3))
sep$status <- ifelse(sep$x == 1, 0L, rbinom(nsep, 1, 0.8))
cases$separation <- run_case("separation", Surv(time, status) ~ x + z, sep,
                             note = "x = 1 never has an event: monotone likelihood, R warns")

meta <- list(r = R.version.string, survival = format(packageVersion("survival")),
             jsonlite = format(packageVersion("jsonlite")),
             script = "tests/reference/r/cox_fit.R")
write_json(list(meta = meta, cases = cases), out_json, digits = NA, auto_unbox = TRUE,
           null = "null", na = "null", pretty = TRUE)
cat("wrote", out_json, "with", length(cases), "cases\n")
