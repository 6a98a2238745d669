# Reference values for mmrwe.stats.proportions.
# Run from the repository root: Rscript tests/reference/r/proportions.R
# Writes tests/reference/expected/proportions.json.
#   clopper-pearson = binom.test(x, n, conf.level =)$conf.int
#   wilson          = prop.test(x, n, correct = FALSE, conf.level =)$conf.int
#   wilson-cc       = prop.test(x, n, correct = TRUE, conf.level =)$conf.int
#   binom_p         = binom.test(x, n, p = p0)$p.value (two-sided)
library(jsonlite)

ns <- c(1, 2, 3, 5, 10, 13, 29, 51, 100, 250, 1000)
grid <- list()
for (n in ns) {
  xs <- sort(unique(c(0, 1, floor(n / 3), floor(n / 2), ceiling(n / 2), n - 1, n)))
  xs <- xs[xs >= 0 & xs <= n]
  for (x in xs) grid[[length(grid) + 1]] <- c(x, n)
}
grid[[length(grid) + 1]] <- c(29, 51) # contract example
levels <- c(0.8, 0.9, 0.95, 0.99)

intervals <- list()
for (g in grid) {
  x <- g[1]; n <- g[2]
  for (cl in levels) {
    cp <- binom.test(x, n, conf.level = cl)$conf.int
    w <- suppressWarnings(prop.test(x, n, correct = FALSE, conf.level = cl)$conf.int)
    wc <- suppressWarnings(prop.test(x, n, correct = TRUE, conf.level = cl)$conf.int)
    intervals[[length(intervals) + 1]] <- list(
      successes = x, n = n, conf_level = cl, estimate = x / n,
      cp_lower = cp[1], cp_upper = cp[2],
      wilson_lower = w[1], wilson_upper = w[2],
      wilsoncc_lower = wc[1], wilsoncc_upper = wc[2]
    )
  }
}

pvalues <- list()
for (g in grid) {
  x <- g[1]; n <- g[2]
  for (p0 in c(0.5, 0.3, 0.1, 0.75, 1 / 3)) {
    pvalues[[length(pvalues) + 1]] <- list(successes = x, n = n, p0 = p0,
                                           p = binom.test(x, n, p = p0)$p.value)
  }
}
# x exactly at the mode n * p0, and tables whose opposite tail has ties with d
for (case in list(c(5, 10, 0.5), c(3, 12, 0.25), c(2, 8, 0.25), c(7, 21, 1 / 3), c(6, 8, 0.5))) {
  pvalues[[length(pvalues) + 1]] <- list(successes = case[1], n = case[2], p0 = case[3],
                                         p = binom.test(case[1], case[2], p = case[3])$p.value)
}

out <- list(
  meta = list(r = R.version.string, script = "tests/reference/r/proportions.R"),
  intervals = intervals,
  binom_test = pvalues
)
dir.create("tests/reference/expected", showWarnings = FALSE, recursive = TRUE)
write_json(out, "tests/reference/expected/proportions.json", digits = NA, auto_unbox = TRUE,
           null = "null", na = "null", pretty = TRUE)
