# Reference values for mmrwe.stats.imputation: Rubin's rules (mice::pool) on completed data
# sets, and the deterministic building blocks of mice's imputation methods.
# Run from the repository root: Rscript tests/reference/r/mi_pool.R
# Writes tests/reference/data/mi_lung_completed.csv, mi_blocks_*.csv and
# tests/reference/expected/mi_pool.json.
#
# Pooling: survival::lung has missing meal.cal (47), wt.loss (14), ph.ecog (1), ph.karno (1),
# pat.karno (3). mice (m = 5, pmm, seeded) completes it with the event indicator and the
# Nelson-Aalen cumulative hazard as predictors (White & Royston 2009); the completed data
# sets are written out, and Cox, robust Cox, logistic and intercept-only (proportion) models
# are fitted to each and pooled with mice::pool. mmrwe refits the same models on the same
# completed data and pools with its own code.
suppressMessages({library(survival); library(mice); library(nnet); library(jsonlite)})
out_json <- "tests/reference/expected/mi_pool.json"
data_dir <- "tests/reference/data"

write_exact <- function(df, path) {
  out <- df
  for (nm in names(out)) if (is.double(out[[nm]])) out[[nm]] <- sprintf("%.17g", out[[nm]])
  write.csv(out, path, row.names = FALSE, quote = TRUE)
}
rows <- function(m) lapply(seq_len(nrow(m)), function(i) I(unname(as.numeric(m[i, ]))))

# ---------------------------------------------------------------------------------------
# 1. pooling
# ---------------------------------------------------------------------------------------
lung2 <- lung[, c("time", "status", "age", "sex", "ph.ecog", "ph.karno", "meal.cal", "wt.loss")]
lung2$status <- lung2$status - 1L
lung2$cumhaz <- nelsonaalen(lung2, time, status)
pred <- make.predictorMatrix(lung2)
pred[, "time"] <- 0
imp <- mice(lung2, m = 5, maxit = 10, seed = 20240601, printFlag = FALSE, predictorMatrix = pred)
long <- complete(imp, action = "long")
completed <- long[, c(".imp", "time", "status", "age", "sex", "ph.ecog", "ph.karno",
                      "meal.cal", "wt.loss", "cumhaz")]
names(completed)[1] <- "imp"
write_exact(completed, file.path(data_dir, "mi_lung_completed.csv"))

pooled_table <- function(fit, dfcom = NULL) {
  p <- if (is.null(dfcom)) pool(fit) else pool(fit, dfcom = dfcom)
  s <- summary(p, conf.int = TRUE)
  pp <- p$pooled
  list(terms = I(as.character(pp$term)),
       estimate = I(pp$estimate), ubar = I(pp$ubar), b = I(pp$b), t = I(pp$t),
       dfcom = I(pp$dfcom), df = I(pp$df), riv = I(pp$riv), lambda = I(pp$lambda),
       fmi = I(pp$fmi), std_error = I(s$std.error), statistic = I(s$statistic),
       p_value = I(s$p.value), lower = I(s[["2.5 %"]]), upper = I(s[["97.5 %"]]))
}

fit_cox <- with(imp, coxph(Surv(time, status) ~ age + sex + ph.ecog + meal.cal + wt.loss))
fit_cox_robust <- with(imp, coxph(Surv(time, status) ~ age + sex + ph.ecog + meal.cal + wt.loss,
                                  robust = TRUE))
fit_logit <- with(imp, glm(I(ph.ecog >= 1) ~ age + sex + meal.cal + wt.loss, family = binomial))
fit_prop <- with(imp, glm(I(wt.loss > 5) ~ 1, family = binomial))
successes <- vapply(1:5, function(i) sum(complete(imp, i)$wt.loss > 5), numeric(1))

pool_cases <- list(
  cox = pooled_table(fit_cox),
  cox_robust = pooled_table(fit_cox_robust),
  logistic = pooled_table(fit_logit),
  proportion = c(pooled_table(fit_prop), list(successes = I(successes), n = nrow(lung2))),
  cox_dfcom_inf = pooled_table(fit_cox, dfcom = Inf)
)

# ---------------------------------------------------------------------------------------
# 2. building blocks of mice's methods (deterministic once the random draws are given)
# ---------------------------------------------------------------------------------------
blocks <- list()

# Nelson-Aalen as mice::nelsonaalen (Efron ties through basehaz(coxph(~ 1)))
blocks$nelsonaalen <- list(time = I(lung2$time), status = I(lung2$status),
                           cumhaz = I(lung2$cumhaz))

# matchindex: the C++ code draws base::sample(n1) then sample(1:k, n0, replace = TRUE);
# replaying those two calls after the same seed recovers its random inputs
set.seed(11)
d <- round(rnorm(40), 1)          # ties among donors
tt <- c(round(rnorm(14), 2), 0.1) # a target exactly on a donor value
k <- 5L
set.seed(7); idx <- mice:::matchindex(d, tt, k)
set.seed(7); ishuf <- sample(length(d)); h <- sample(seq_len(k), length(tt), replace = TRUE)
blocks$matchindex <- list(d = I(d), t = I(tt), k = k, shuffle = I(ishuf), h = I(h), idx = I(idx))
set.seed(8); idx1 <- mice:::matchindex(d, tt, 1L)
blocks$matchindex_k1 <- list(idx = I(idx1))

# .norm.draw given z and the chi-square draw: wt.loss ~ age + sex + meal.cal (complete rows)
cc <- na.omit(lung2[, c("wt.loss", "age", "sex", "meal.cal")])
X <- cbind(1, as.matrix(cc[, c("age", "sex", "meal.cal")]))
y <- cc$wt.loss
z <- c(0.3, -1.2, 0.8, 0.05)
chisq <- 150.5
p <- mice:::estimice(X, y)
sigma.star <- sqrt(sum((p$r)^2) / chisq)
beta.star <- p$c + (t(chol(mice:::sym(p$v))) %*% z) * sigma.star
blocks$norm_draw <- list(x = rows(X), y = I(y), z = I(z), chisq = chisq,
                         coef = I(as.numeric(p$c)), beta_star = I(as.numeric(beta.star)),
                         sigma_star = sigma.star)

# augment() + the weighted quasibinomial glm.fit of mice.impute.logreg
lb <- na.omit(lung2[, c("ph.ecog", "age", "sex", "meal.cal")])
yb <- factor(ifelse(lb$ph.ecog >= 1, "yes", "no"))
xb <- as.matrix(lb[, c("age", "sex", "meal.cal")])
ryb <- rep(TRUE, nrow(lb)); ryb[seq(3, nrow(lb), by = 7)] <- FALSE
aug <- mice:::augment(yb, ryb, xb, !ryb)
xa <- cbind(1, as.matrix(aug$x))
fit <- glm.fit(x = xa[aug$ry, , drop = FALSE], y = aug$y[aug$ry],
               family = quasibinomial(link = logit), weights = aug$w[aug$ry])
fs <- summary.glm(fit)
blocks$logreg <- list(x = rows(xb), y = I(as.integer(yb) - 1L), ry = I(ryb),
                      aug_x = rows(as.matrix(aug$x)), aug_y = I(as.integer(aug$y) - 1L),
                      aug_w = I(aug$w), aug_ry = I(aug$ry), aug_wy = I(aug$wy),
                      coef = I(unname(coef(fit))), cov_unscaled = rows(fs$cov.unscaled))

# augment() + nnet::multinom of mice.impute.polyreg, run to convergence (mice stops at
# maxit = 100; the model is the same)
yp <- factor(c("0", "1", "2+")[pmin(lb$ph.ecog, 2) + 1])
aug3 <- mice:::augment(yp, ryb, xb, !ryb)
xy <- cbind.data.frame(y = aug3$y, x = aug3$x)
mfit <- multinom(formula(xy), data = xy[aug3$ry, , drop = FALSE], weights = aug3$w[aug3$ry],
                 maxit = 5000, reltol = 1e-15, abstol = 1e-300, trace = FALSE)
blocks$polyreg <- list(y = I(as.integer(yp) - 1L), levels = I(levels(yp)),
                       aug_y = I(as.integer(aug3$y) - 1L), coef = rows(coef(mfit)),
                       loglik = as.numeric(logLik(mfit)))

# remove.lindep: a constant column, an exact linear combination, a near copy of y
set.seed(3)
n <- 60
x1 <- rnorm(n); x2 <- rnorm(n); yl <- x1 + rnorm(n)
xl <- cbind(a = x1, const = 1, b = x2, comb = x1 + 2 * x2, ycopy = yl + rnorm(n, sd = 1e-3))
ryl <- rep(TRUE, n); ryl[1:10] <- FALSE
# remove.lindep logs what it drops into mice's `state` / `loggedEvents`, normally set up by mice()
state <- list(it = 0, im = 0, dep = "", meth = "", log = FALSE)
loggedEvents <- NULL
keep <- mice:::remove.lindep(xl, yl, ryl)
blocks$remove_lindep <- list(x = rows(xl), y = I(yl), ry = I(ryl), keep = I(unname(keep)))

write_json(list(meta = list(r = R.version.string, mice = format(packageVersion("mice")),
                            survival = format(packageVersion("survival")),
                            nnet = format(packageVersion("nnet")),
                            broom = format(packageVersion("broom")),
                            jsonlite = format(packageVersion("jsonlite")),
                            script = "tests/reference/r/mi_pool.R"),
                pool = pool_cases, blocks = blocks),
           out_json, digits = NA, auto_unbox = TRUE, null = "null")
cat("wrote", out_json, "\n")
