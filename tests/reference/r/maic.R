# Reference values for mmrwe.stats.maic (matching-adjusted indirect comparison).
# Run from the repository root: Rscript tests/reference/r/maic.R
# Writes tests/reference/data/maic_<case>.csv and tests/reference/expected/maic.json.
#
# The MAIC estimating equations of NICE DSU TSD 18 (appendix D): covariates centred on the
# target means (and squares centred on mean^2 + sd^2 where an SD is matched), weights
# exp(X a), a minimising sum(exp(X a)). Solved twice in R: by Newton-Raphson with the
# analytic gradient and Hessian to machine precision (the values exported), and by TSD 18's
# own optim(method = "BFGS") call (exported for comparison; BFGS stops earlier). Outcomes:
# weighted proportion (weighted.mean) and weighted Kaplan-Meier (survfit(weights = w)).
# Targets are illustrative aggregate values, not from a real trial.
suppressMessages({library(survival); library(jsonlite)})
out_json <- "tests/reference/expected/maic.json"
data_dir <- "tests/reference/data"

write_exact <- function(df, path) {
  out <- df
  for (nm in names(out)) if (is.double(out[[nm]])) out[[nm]] <- sprintf("%.17g", out[[nm]])
  write.csv(out, path, row.names = FALSE, quote = TRUE)
}

maic_case <- function(name, d, covs, means, sds, outcome, landmarks) {
  X <- as.matrix(d[, covs])
  M <- X
  target <- means
  labels <- covs
  for (j in seq_along(covs)) if (!is.na(sds[j])) {
    M <- cbind(M, X[, j]^2)
    target <- c(target, means[j]^2 + sds[j]^2)
    labels <- c(labels, paste0(covs[j], "^2"))
  }
  Xc <- sweep(M, 2, target)                  # X.EM.0 of TSD 18
  # Newton-Raphson on Q(a) = sum exp(Xc a)
  a <- rep(0, ncol(Xc))
  for (it in 1:100) {
    w <- as.vector(exp(Xc %*% a))
    g <- colSums(Xc * w)
    if (max(abs(g)) / sum(w) < 1e-13) break
    H <- crossprod(Xc * sqrt(w))
    a <- a - solve(H, g)
  }
  # TSD 18's call
  objfn <- function(a1, X) sum(exp(X %*% a1))
  gradfn <- function(a1, X) colSums(sweep(X, 1, exp(X %*% a1), "*"))
  opt <- optim(par = rep(0, ncol(Xc)), fn = objfn, gr = gradfn, X = Xc, method = "BFGS",
               control = list(maxit = 1000, reltol = 1e-12))
  wt <- as.vector(exp(Xc %*% a))
  wt_rs <- wt / sum(wt) * nrow(d)
  km <- survfit(Surv(time, status) ~ 1, data = d, weights = wt)
  q <- quantile(km, probs = 0.5)
  sm <- summary(km, times = landmarks, extend = TRUE)
  write_exact(d, file.path(data_dir, paste0("maic_", name, ".csv")))
  list(data = paste0("maic_", name), covariates = I(covs), target_means = I(means),
       target_sds = I(ifelse(is.na(sds), NA, sds)), moments = I(labels), target = I(target),
       alpha = I(a), alpha_optim = I(opt$par), newton_iterations = it,
       weights = I(wt), rescaled = I(wt_rs), ess = sum(wt)^2 / sum(wt^2),
       weighted_moments = I(colSums(M * wt) / sum(wt)),
       outcome = outcome, weighted_proportion = weighted.mean(d[[outcome]], wt),
       km_median = unname(q$quantile), landmarks = I(landmarks), km_surv = I(sm$surv))
}

lung2 <- na.omit(lung[, c("time", "status", "age", "sex", "ph.ecog")])
lung2$status <- lung2$status - 1L
lung_ipd <- data.frame(time = lung2$time, status = lung2$status, age = lung2$age,
                       female = as.integer(lung2$sex == 2), ecog1 = as.integer(lung2$ph.ecog >= 1))
rownames(lung_ipd) <- NULL

pbc2 <- na.omit(pbc[!is.na(pbc$trt), c("time", "status", "age", "sex", "bili", "albumin", "edema")])
pbc_ipd <- data.frame(time = pbc2$time, status = as.integer(pbc2$status == 2), age = pbc2$age,
                      female = as.integer(pbc2$sex == "f"), bili = pbc2$bili,
                      albumin = pbc2$albumin, edema = as.integer(pbc2$edema > 0))
rownames(pbc_ipd) <- NULL

cases <- list(
  lung_sd = maic_case("lung_sd", lung_ipd, c("age", "female", "ecog1"),
                      c(63, 0.45, 0.65), c(9, NA, NA), "status", c(180, 365)),
  lung_means = maic_case("lung_means", lung_ipd, c("age", "female", "ecog1"),
                         c(64, 0.42, 0.7), c(NA, NA, NA), "status", c(180, 365)),
  pbc_sd = maic_case("pbc_sd", pbc_ipd, c("age", "female", "bili", "albumin", "edema"),
                     c(52, 0.85, 2.5, 3.5, 0.12), c(10, NA, 3.5, 0.4, NA), "status", c(1000, 2000))
)

write_json(list(meta = list(r = R.version.string, survival = format(packageVersion("survival")),
                            jsonlite = format(packageVersion("jsonlite")),
                            script = "tests/reference/r/maic.R"),
                cases = cases),
           out_json, digits = NA, auto_unbox = TRUE, null = "null", na = "null")
cat("wrote", out_json, "\n")
