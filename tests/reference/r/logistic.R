# Reference values for mmrwe.stats.logistic.
# Run from the repository root: Rscript tests/reference/r/logistic.R
# Writes tests/reference/expected/logistic.json and tests/reference/data/logistic_<case>.csv
# (column y = 0/1 outcome, the other columns = covariates in model order).
#   fit  <- glm(y ~ ., family = binomial, data = d)   (epsilon 1e-8, maxit 25)
#   summary(fit)$coefficients, deviance, null.deviance, aic, iter, converged, warnings
#   confint(fit, level =)          profile likelihood (MASS 7.3 profile.glm + spline/approx)
#   confint.default(fit, level =)  Wald
library(jsonlite)
library(MASS)

cases <- list()

# MASS::birthwt, as in MASS's own example (race as two dummies, ptd = ptl > 0)
bw <- MASS::birthwt
cases$birthwt <- data.frame(
  y = bw$low, age = bw$age, lwt = bw$lwt,
  race_black = as.integer(bw$race == 2), race_other = as.integer(bw$race == 3),
  smoke = bw$smoke, ptd = as.integer(bw$ptl > 0), ht = bw$ht, ui = bw$ui, ftv = bw$ftv
)

# datasets::esoph expanded to one row per subject (case = 1), ordered factors as scores
es <- datasets::esoph
rows <- lapply(seq_len(nrow(es)), function(i) {
  data.frame(y = c(rep(1, es$ncases[i]), rep(0, es$ncontrols[i])),
             age = as.integer(es$agegp[i]), alcohol = as.integer(es$alcgp[i]),
             tobacco = as.integer(es$tobgp[i]))
})
cases$esoph <- do.call(rbind, rows)

# datasets::mtcars, am ~ wt + hp
cases$mtcars <- data.frame(y = mtcars$am, wt = mtcars$wt, hp = mtcars$hp)

# A binary covariate: the contract's 2 x 2 table (group yes: 20 / 18, group no: 9 / 4)
cases$two_by_two <- data.frame(y = c(rep(1, 20), rep(0, 18), rep(1, 9), rep(0, 4)),
                               group_yes = c(rep(1, 38), rep(0, 13)))

# A small continuous-covariate case with overlap
set.seed(20240501)
x <- round(rnorm(40, 10, 2), 1)
cases$overlap <- data.frame(y = as.integer(x + rnorm(40, 0, 2) > 10.5), x = x)

# Complete separation: every y = 1 has x > every y = 0
cases$separated <- data.frame(y = c(0, 0, 0, 0, 0, 1, 1, 1, 1, 1), x = c(1, 2, 3, 4, 5, 6, 7, 8, 9, 10))

# Quasi-complete separation: the groups touch at x = 5
cases$quasi_separated <- data.frame(y = c(0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 0, 1),
                                    x = c(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 5, 5))

# A binary covariate with a zero cell (OR -> Inf)
cases$zero_cell <- data.frame(y = c(rep(1, 7), rep(0, 0), rep(1, 5), rep(0, 9)),
                              exposed = c(rep(1, 7), rep(0, 14)))

capture <- function(expr) {
  warns <- character()
  value <- withCallingHandlers(tryCatch(expr, error = function(e) structure(conditionMessage(e), class = "err")),
    warning = function(w) {
      warns <<- c(warns, conditionMessage(w))
      invokeRestart("muffleWarning")
    },
    message = function(m) invokeRestart("muffleMessage"))
  list(value = value, warnings = unique(warns))
}

num <- function(v) ifelse(is.finite(v), v, NA)
out_cases <- list()
dir.create("tests/reference/data", showWarnings = FALSE, recursive = TRUE)
for (nm in names(cases)) {
  d <- cases[[nm]]
  write.csv(d, sprintf("tests/reference/data/logistic_%s.csv", nm), row.names = FALSE)
  f <- capture(glm(y ~ ., family = binomial, data = d))
  fit <- f$value
  s <- summary(fit)$coefficients
  res <- list(
    case = nm, n = nrow(d), names = rownames(s),
    coef = unname(s[, 1]), se = unname(s[, 2]), z = unname(s[, 3]), p = unname(s[, 4]),
    deviance = fit$deviance, null_deviance = fit$null.deviance, aic = fit$aic,
    df_residual = fit$df.residual, df_null = fit$df.null, iter = fit$iter,
    converged = fit$converged, glm_warnings = f$warnings,
    lr_chisq = fit$null.deviance - fit$deviance, lr_df = fit$df.null - fit$df.residual,
    lr_p = pchisq(fit$null.deviance - fit$deviance, fit$df.null - fit$df.residual, lower.tail = FALSE)
  )
  for (lv in c(0.95, 0.9)) {
    key <- if (lv == 0.95) "" else "_90"
    pc <- capture(confint(fit, level = lv))
    if (inherits(pc$value, "err")) {
      res[[paste0("profile_error", key)]] <- as.character(pc$value)
    } else {
      res[[paste0("profile_lower", key)]] <- num(unname(pc$value[, 1]))
      res[[paste0("profile_upper", key)]] <- num(unname(pc$value[, 2]))
    }
    res[[paste0("profile_warnings", key)]] <- pc$warnings
    wd <- confint.default(fit, level = lv)
    res[[paste0("wald_lower", key)]] <- unname(wd[, 1])
    res[[paste0("wald_upper", key)]] <- unname(wd[, 2])
  }
  out_cases[[length(out_cases) + 1]] <- res
}

out <- list(
  meta = list(r = R.version.string, MASS = format(packageVersion("MASS")),
              script = "tests/reference/r/logistic.R",
              note = "profile CIs: MASS::confint.glm (profile.glm grid + spline + approx); NA = not found"),
  cases = out_cases
)
dir.create("tests/reference/expected", showWarnings = FALSE, recursive = TRUE)
write_json(out, "tests/reference/expected/logistic.json", digits = NA, auto_unbox = TRUE,
           null = "null", na = "null", pretty = TRUE)
