# Reference fixtures for mmrwe.stats.agreement.cohen_kappa (psych 2.2.9, base R).
# Run from the repository root: Rscript tests/reference/r/kappa.R
# Writes tests/reference/data/kappa_ratings.csv (a constructed data set: two ratings of the
# best response per patient, some missing) and tests/reference/expected/kappa.json.
#
# Unweighted kappa and its variance: psych::cohen.kappa (Fleiss, Cohen & Everitt 1969).
# Weighted kappa (quadratic agreement weights on the full ordered scale): the estimate from
# psych; its variance by the delta method computed here numerically (central differences of
# kappa(p) with the multinomial covariance of the cell proportions), independent of the
# closed form mmrwe uses. psych's own var.weighted is not used: it mixes the marginals
# (roww = rowSums(w * rs)) and returns 0 on these data.
suppressMessages({library(psych); library(jsonlite)})
out_json <- "tests/reference/expected/kappa.json"
data_dir <- "tests/reference/data"

set.seed(20250101)
levels8 <- c("sCR", "CR", "VGPR", "PR", "MR", "SD", "PD", "NE")
n <- 80
derived <- sample(levels8, n, replace = TRUE, prob = c(.04, .08, .14, .28, .1, .2, .1, .06))
recorded <- derived
flip <- sample(n, 26)
# disagreements are mostly one category away, as in practice
step <- sample(c(-1, 1, 2), 26, replace = TRUE, prob = c(.45, .45, .1))
recorded[flip] <- levels8[pmin(pmax(match(derived[flip], levels8) + step, 1), 8)]
recorded[c(5, 17, 42)] <- NA  # not recorded by the site
d <- data.frame(patient = sprintf("P%02d", 1:n), derived = derived, recorded = recorded)
write.csv(d, file.path(data_dir, "kappa_ratings.csv"), row.names = FALSE, na = "")

responder <- function(x) ifelse(is.na(x), NA, ifelse(x %in% c("sCR", "CR", "VGPR", "PR"), "yes", "no"))

unweighted <- function(a, b, cats) {
  ok <- !is.na(a) & !is.na(b)
  r <- cohen.kappa(cbind(a[ok], b[ok]), levels = cats)
  list(categories = cats, n = sum(ok), kappa = r$kappa, var = r$var.kappa,
       lower = unname(r$confid[1, "lower"]), upper = unname(r$confid[1, "upper"]),
       table = lapply(seq_along(cats), function(i) I(as.integer(table(factor(a[ok], cats), factor(b[ok], cats))[i, ]))))
}

kappa_w <- function(p, w) {
  r <- rowSums(p); cc <- colSums(p)
  po <- sum(w * p); pe <- sum(w * outer(r, cc))
  (po - pe) / (1 - pe)
}

weighted <- function(a, b, cats) {
  ok <- !is.na(a) & !is.na(b)
  k <- length(cats)
  w <- matrix(0, k, k); w[] <- 1 - (col(w) - row(w))^2 / (k - 1)^2
  r <- suppressWarnings(cohen.kappa(cbind(a[ok], b[ok]), w = w, levels = cats))
  tab <- table(factor(a[ok], cats), factor(b[ok], cats))
  m <- sum(tab); p <- as.vector(tab) / m
  h <- 1e-6
  g <- sapply(seq_along(p), function(i) {
    up <- p; dn <- p; up[i] <- up[i] + h; dn[i] <- dn[i] - h
    (kappa_w(matrix(up, k), w) - kappa_w(matrix(dn, k), w)) / (2 * h)
  })
  sigma <- diag(p) - outer(p, p)
  var_delta <- as.numeric(t(g) %*% sigma %*% g) / m
  list(categories = cats, n = sum(ok), kappa = r$weighted.kappa, var = var_delta,
       psych_kappa_unweighted = r$kappa)
}

ord7 <- levels8[1:7]
no_ne <- function(x) ifelse(x == "NE", NA, x)
cases <- list(
  depth = unweighted(d$derived, d$recorded, levels8),
  orr = unweighted(responder(d$derived), responder(d$recorded), c("yes", "no")),
  depth_weighted = weighted(no_ne(d$derived), no_ne(d$recorded), ord7),
  perfect = unweighted(c("yes", "no", "yes", "no"), c("yes", "no", "yes", "no"), c("yes", "no"))
)
write_json(list(meta = list(r = R.version.string, psych = format(packageVersion("psych")),
                            seed = 20250101, alpha = 0.05),
                cases = cases),
           out_json, digits = NA, auto_unbox = TRUE, pretty = TRUE)
