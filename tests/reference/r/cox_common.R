# Shared helpers for cox_weights.R and cox_counting.R (sourced; writes nothing by itself).
# Run the fixture scripts from the repository root, e.g.
#   Rscript tests/reference/r/cox_weights.R
# Each case writes tests/reference/data/<data>.csv with the columns mmrwe needs: [start], time,
# status, [strata], [cluster], [weights], then the model matrix columns named as mmrwe names
# them ("variable=level" for factor dummies), all doubles at full precision (%.17g).
suppressPackageStartupMessages({
  library(survival)
  library(jsonlite)
})
stopifnot(packageVersion("survival") >= "3.5")
invisible(Sys.setlocale("LC_COLLATE", "C"))  # sorted labels as Python sorts them
data_dir <- "tests/reference/data"

meta_info <- function(script) {
  list(r = R.version.string, survival = format(packageVersion("survival")),
       jsonlite = format(packageVersion("jsonlite")), script = script)
}

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
      out[j] <- paste0(lab, "=", substring(colnames(X)[j], nchar(lab) + 1))
    }
  }
  out
}

zph_table <- function(fit, tr, terms = TRUE) {
  z <- tryCatch(cox.zph(fit, transform = tr, terms = terms),
                error = function(e) {message("zph: ", conditionMessage(e)); NULL})
  if (is.null(z)) return(NULL)
  tb <- z$table
  nt <- nrow(tb) - 1
  out <- list()
  for (i in seq_len(nt)) out[[rownames(tb)[i]]] <- list(chisq = tb[i, 1], df = tb[i, 2], p = tb[i, 3])
  list(terms = out, global = list(chisq = tb[nt + 1, 1], df = tb[nt + 1, 2], p = tb[nt + 1, 3]))
}

# One coxph case. `rhs` is the right-hand side (a string, without strata/cluster); the
# response is Surv(time, status) or Surv(start, time, status). Optional: strata_var,
# cluster_var, weights_var (column names in `data`), robust (TRUE/FALSE/NULL = R default).
run_cox_case <- function(name, rhs, data, ties = "efron", start_var = NULL, strata_var = NULL,
                         cluster_var = NULL, weights_var = NULL, robust = NULL,
                         init = NULL, control = coxph.control(), note = "") {
  lhs <- if (is.null(start_var)) "Surv(time, status)" else
    paste0("Surv(", start_var, ", time, status)")
  f <- paste(lhs, "~", rhs)
  if (!is.null(strata_var)) f <- paste0(f, " + strata(", strata_var, ")")
  args <- list(formula = as.formula(f), data = data, ties = ties, control = control,
               x = TRUE, model = TRUE)
  if (!is.null(weights_var)) args$weights <- data[[weights_var]]
  if (!is.null(cluster_var)) args$cluster <- data[[cluster_var]]
  if (!is.null(robust)) args$robust <- robust
  if (!is.null(init)) args$init <- init
  warns <- character(0)
  fit <- withCallingHandlers(do.call(coxph, args),
    warning = function(w) { warns <<- c(warns, conditionMessage(w)); invokeRestart("muffleWarning") })
  X <- fit$x
  nms <- mm_names(fit)
  stopifnot(nrow(X) == nrow(data))  # complete cases only
  csv <- data.frame(time = data$time, status = as.integer(data$status))
  if (!is.null(start_var)) csv$start <- as.double(data[[start_var]])
  if (!is.null(strata_var)) csv$strata <- data[[strata_var]]
  if (!is.null(cluster_var)) csv$cluster <- data[[cluster_var]]
  if (!is.null(weights_var)) csv$weights <- as.double(data[[weights_var]])
  for (j in seq_along(nms)) csv[[nms[j]]] <- as.double(X[, j])
  write_exact(csv, file.path(data_dir, paste0(name, ".csv")))
  df <- sum(!is.na(coef(fit)))
  lr <- -2 * (fit$loglik[1] - fit$loglik[2])
  is_rob <- !is.null(fit$naive.var)
  nvar <- if (is_rob) fit$naive.var else fit$var
  tests <- list(
    lr = list(chisq = lr, df = df, p = pchisq(lr, df, lower.tail = FALSE)),
    wald = list(chisq = unname(fit$wald.test), df = df,
                p = pchisq(unname(fit$wald.test), df, lower.tail = FALSE)),
    score = list(chisq = unname(fit$score), df = df,
                 p = pchisq(unname(fit$score), df, lower.tail = FALSE)))
  if (!is.null(fit$rscore))
    tests$robust_score <- list(chisq = unname(fit$rscore), df = df,
                               p = pchisq(unname(fit$rscore), df, lower.tail = FALSE))
  s <- summary(fit)
  cf <- s$coefficients
  ci <- s$conf.int
  list(
    note = note, data = name, ties = ties, robust = is_rob,
    robust_arg = if (is.null(robust)) NULL else robust,
    init = if (is.null(init)) NULL else I(init),
    has_start = !is.null(start_var), has_strata = !is.null(strata_var),
    has_cluster = !is.null(cluster_var), has_weights = !is.null(weights_var),
    iter_max = control$iter.max, call = f,
    names = I(nms), r_names = I(colnames(X)),
    coef = I(unname(coef(fit))),
    se = I(unname(sqrt(diag(nvar)))),
    robust_se = if (is_rob) I(unname(sqrt(diag(fit$var)))) else NULL,
    z = I(unname(cf[, "z"])), p = I(unname(cf[, ncol(cf)])),
    lower = I(unname(ci[, 3])), upper = I(unname(ci[, 4])),
    var = rows(fit$var), naive_var = rows(nvar),
    loglik = I(fit$loglik), iter = fit$iter, n = fit$n, events = fit$nevent,
    tests = tests,
    concordance = unname(fit$concordance["concordance"]),
    concordance_se = unname(fit$concordance["std"]),
    warnings = I(warns),
    zph = list(km = zph_table(fit, "km"), rank = zph_table(fit, "rank"),
               identity = zph_table(fit, "identity"),
               km_columns = zph_table(fit, "km", terms = FALSE)))
}
