# Firth-penalized Cox (Heinze & Schemper 2001) computed independently of mmrwe and of coxphf
# (coxphf is not packaged for Debian): the penalized log-likelihood
#   l*(b) = l(b) + 0.5 log |I(b)|
# is evaluated with survival::coxph(init = b, iter.max = 0) (loglik, and I(b) = solve(var)),
# maximised with uniroot / optim on numerical derivatives, and the profile penalized-likelihood
# limits found with uniroot; p-values by the penalized likelihood-ratio test (coxphf pl = TRUE).
# Run from the repository root: Rscript tests/reference/r/firth_cox.R
suppressMessages({library(survival); library(jsonlite)})
out_json <- "tests/reference/expected/firth_cox.json"
data_dir <- "tests/reference/data"

pen_ll <- function(b, d, terms, ties) {
  f <- as.formula(paste("Surv(time, status) ~", paste(terms, collapse = " + ")))
  fit <- suppressWarnings(coxph(f, data = d, ties = ties, init = b,
                                control = coxph.control(iter.max = 0)))
  I <- solve(fit$var)
  list(ll = fit$loglik[2], pll = fit$loglik[2] + 0.5 * as.numeric(determinant(I)$modulus),
       var = fit$var)
}
pll <- function(b, d, terms, ties) pen_ll(b, d, terms, ties)$pll

num_grad <- function(fn, b, h = 1e-5) {
  sapply(seq_along(b), function(j) { e <- rep(0, length(b)); e[j] <- h
    (fn(b + e) - fn(b - e)) / (2 * h) })
}

# maximise over the free coordinates (fixed ones held at 'fixed' values)
maximise <- function(fn, start, free, scale = rep(1, length(start))) {
  p <- length(start)
  if (sum(free) == 0) return(list(par = start, value = fn(start)))
  g <- function(bf) { b <- start; b[free] <- bf; fn(b) }
  if (sum(free) == 1) {
    gr <- function(x) (g(x + 1e-5) - g(x - 1e-5)) / 2e-5
    x0 <- start[free]
    lo <- x0 - 1; hi <- x0 + 1
    while (gr(lo) < 0) lo <- lo - 2
    while (gr(hi) > 0) hi <- hi + 2
    r <- uniroot(gr, c(lo, hi), tol = 1e-13)$root
    b <- start; b[free] <- r
    return(list(par = b, value = fn(b)))
  }
  o <- optim(start[free], function(x) -g(x), function(x) -num_grad(g, x), method = "BFGS",
             control = list(reltol = 1e-15, maxit = 1000, parscale = scale[free]))
  x <- o$par
  for (it in 1:6) {  # polish with Newton on numerical derivatives
    H <- optimHess(x, function(z) -g(z), function(z) -num_grad(g, z))
    x <- x - solve(H, -num_grad(g, x))
  }
  b <- start; b[free] <- x
  list(par = b, value = fn(b))
}

ml <- function(d, terms, ties) {
  f <- as.formula(paste("Surv(time, status) ~", paste(terms, collapse = " + ")))
  fit <- suppressWarnings(coxph(f, data = d, ties = ties))
  list(coef = unname(coef(fit)), se = unname(sqrt(diag(fit$var))), iter = fit$iter)
}

firth_reference <- function(d, terms, ties, conf_level = 0.95) {
  fn <- function(b) pll(b, d, terms, ties)
  p <- length(terms)
  start <- ml(d, terms, ties)$coef  # a good start when the ML estimate is finite
  if (any(!is.finite(start)) || any(abs(start) > 5)) start <- rep(0, p)
  scale <- sqrt(diag(pen_ll(start, d, terms, ties)$var))  # BFGS steps in units of SE
  fit <- maximise(fn, start, rep(TRUE, p), scale)
  bhat <- fit$par; lmax <- fit$value
  v <- pen_ll(bhat, d, terms, ties)$var
  q <- qchisq(conf_level, 1)
  prof <- function(r, val) { s <- bhat; s[r] <- val; free <- rep(TRUE, p); free[r] <- FALSE
    maximise(fn, s, free, scale)$value }
  lower <- upper <- chisq <- numeric(p)
  for (r in seq_len(p)) {
    h <- function(val) 2 * (lmax - prof(r, val)) - q
    se <- sqrt(v[r, r])
    a <- bhat[r] - se; while (h(a) < 0) a <- a - se
    b <- bhat[r] + se; while (h(b) < 0) b <- b + se
    lower[r] <- uniroot(h, c(a, bhat[r]), tol = 1e-12)$root
    upper[r] <- uniroot(h, c(bhat[r], b), tol = 1e-12)$root
    chisq[r] <- 2 * (lmax - prof(r, 0))
  }
  l0 <- fn(rep(0, p))
  list(terms = terms, ties = ties, coef = bhat, se = sqrt(diag(v)), hr = exp(bhat),
       lower = exp(lower), upper = exp(upper), chisq = chisq, p = pchisq(chisq, 1, lower.tail = FALSE),
       loglik_penalized = lmax, loglik_penalized_null = l0,
       lr_chisq = 2 * (lmax - l0), lr_p = pchisq(2 * (lmax - l0), p, lower.tail = FALSE),
       n = nrow(d), events = sum(d$status))
}

# --- data --------------------------------------------------------------------------------
# 1. "tenfold" scenario: 28 patients with FISH, 9 high-risk (synthetic, seeded)
set.seed(20250101)
n_hi <- 9; n_std <- 19
near <- data.frame(
  time = round(c(rexp(n_hi, 1 / 4), rexp(n_std, 1 / 40)), 1) + 0.1,
  high_risk = c(rep(1, n_hi), rep(0, n_std)))
near$status <- as.integer(near$time < 30)
near$time <- pmin(near$time, 30)
# 2. complete separation: every high-risk patient progresses before any standard-risk event
sep <- data.frame(time = c(1:8, 8.5, 9 + (1:19)), status = c(rep(1, 8), 0, rep(c(1, 0), 9), 1),
                  high_risk = c(rep(1, 9), rep(0, 19)))
# 3. ovarian (survival): 26 patients, three covariates
ov <- data.frame(time = ovarian$futime, status = ovarian$fustat, rx = ovarian$rx - 1,
                 ecog = ovarian$ecog.ps - 1, age = ovarian$age)
# 4. veteran (survival), tied times: Efron and Breslow
vet <- data.frame(time = veteran$time, status = veteran$status, trt = veteran$trt - 1,
                  karno = veteran$karno)
# 5. tied times plus a separated factor
tie_sep <- data.frame(time = c(2, 2, 2, 3, 3, 5, 5, 5, 6, 7, 7, 8, 9, 9, 10),
                      status = c(1, 1, 0, 1, 1, 1, 1, 0, 1, 0, 1, 1, 0, 1, 0),
                      g = c(1, 1, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0))

write.csv(near, file.path(data_dir, "firth_near.csv"), row.names = FALSE)
write.csv(sep, file.path(data_dir, "firth_separated.csv"), row.names = FALSE)
write.csv(ov, file.path(data_dir, "firth_ovarian.csv"), row.names = FALSE)
write.csv(vet, file.path(data_dir, "firth_veteran.csv"), row.names = FALSE)
write.csv(tie_sep, file.path(data_dir, "firth_ties.csv"), row.names = FALSE)

cases <- list(
  near_breslow = list(data = "firth_near", terms = "high_risk", ties = "breslow"),
  near_efron = list(data = "firth_near", terms = "high_risk", ties = "efron"),
  separated_breslow = list(data = "firth_separated", terms = "high_risk", ties = "breslow"),
  ovarian_breslow = list(data = "firth_ovarian", terms = c("rx", "ecog", "age"), ties = "breslow"),
  veteran_efron = list(data = "firth_veteran", terms = c("trt", "karno"), ties = "efron"),
  veteran_breslow = list(data = "firth_veteran", terms = c("trt", "karno"), ties = "breslow"),
  ties_efron = list(data = "firth_ties", terms = "g", ties = "efron"),
  near_90 = list(data = "firth_near", terms = "high_risk", ties = "breslow", conf_level = 0.90)
)
res <- list()
for (nm in names(cases)) {
  cs <- cases[[nm]]
  d <- read.csv(file.path(data_dir, paste0(cs$data, ".csv")))
  cl <- if (is.null(cs$conf_level)) 0.95 else cs$conf_level
  r <- firth_reference(d, cs$terms, cs$ties, cl)
  r$data <- cs$data; r$conf_level <- cl
  r$ml <- ml(d, cs$terms, cs$ties)
  res[[nm]] <- r
}
# the penalized log-likelihood at a few fixed points, for a direct check of l*(b)
d <- read.csv(file.path(data_dir, "firth_ovarian.csv"))
pts <- list(c(0, 0, 0), c(-0.5, 0.3, 0.1), c(1, -1, 0.05))
res$pointwise <- list(data = "firth_ovarian", terms = c("rx", "ecog", "age"), ties = "breslow",
  beta = pts, loglik = sapply(pts, function(b) pen_ll(b, d, c("rx", "ecog", "age"), "breslow")$ll),
  pll = sapply(pts, function(b) pll(b, d, c("rx", "ecog", "age"), "breslow")))

meta <- list(r = R.version.string, survival = format(packageVersion("survival")),
             jsonlite = format(packageVersion("jsonlite")),
             method = "independent: coxph(init=b, iter.max=0) loglik and solve(var); uniroot/optim")
write_json(list(meta = meta, cases = res), out_json, digits = NA, auto_unbox = TRUE,
           null = "null", na = "null")
cat("wrote", out_json, "\n")
