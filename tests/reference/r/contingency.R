# Reference values for mmrwe.stats.contingency.
# Run from the repository root: Rscript tests/reference/r/contingency.R
# Writes tests/reference/expected/contingency.json and tests/reference/data/contingency_tables.csv
# (every table in long form: table id, row, column, count).
#   fisher.test(m, conf.level =, alternative =): p.value, estimate (conditional MLE), conf.int
#   chisq.test(m, correct = TRUE / FALSE): statistic, parameter, p.value, expected, warning
library(jsonlite)

t2 <- function(a, b, c, d) matrix(c(a, c, b, d), 2, 2) # rows (a, b) and (c, d)
tables <- list(
  contract = t2(20, 18, 9, 4),
  tea = t2(3, 1, 1, 3),
  convictions = t2(2, 10, 15, 3),
  balanced = t2(10, 10, 10, 10),
  or_one = t2(5, 10, 10, 20),
  zero_a = t2(0, 5, 6, 4),
  zero_b = t2(5, 0, 6, 4),
  zero_c = t2(5, 6, 0, 4),
  zero_d = t2(5, 6, 4, 0),
  two_zeros = t2(0, 7, 7, 0),
  zero_row = t2(0, 0, 3, 4),
  ones = t2(1, 1, 1, 1),
  tiny = t2(1, 0, 0, 1),
  skewed = t2(1, 30, 12, 3),
  large = t2(412, 388, 301, 420),
  larger = t2(1520, 1480, 1390, 1610),
  rare = t2(3, 997, 12, 988),
  uneven = t2(17, 2, 40, 31),
  myeloma_like = t2(12, 7, 9, 23)
)
rxc <- list(
  job = matrix(c(1, 2, 1, 0, 3, 3, 6, 1, 10, 10, 14, 9, 6, 7, 12, 11), 4, 4),
  small_2x3 = matrix(c(3, 1, 2, 4, 0, 5), 2, 3),
  small_3x2 = t(matrix(c(3, 1, 2, 4, 0, 5), 2, 3)),
  small_3x3 = matrix(c(2, 0, 3, 1, 4, 1, 3, 2, 0), 3, 3),
  response_by_center = matrix(c(8, 5, 6, 12, 4, 9), 2, 3),
  sparse_3x4 = matrix(c(1, 0, 2, 0, 3, 1, 2, 0, 0, 1, 1, 4), 3, 4),
  k_by_2 = matrix(c(7, 3, 5, 9, 2, 4, 6, 1), 4, 2),
  ties_2x3 = matrix(c(2, 2, 2, 2, 2, 2), 2, 3)
)

fisher_2x2 <- list()
for (nm in names(tables)) {
  m <- tables[[nm]]
  for (cl in c(0.95, 0.9, 0.99)) {
    for (alt in c("two.sided", "less", "greater")) {
      if (cl != 0.95 && alt != "two.sided") next
      f <- fisher.test(m, conf.level = cl, alternative = alt)
      fisher_2x2[[length(fisher_2x2) + 1]] <- list(
        table = nm, counts = as.vector(t(m)), conf_level = cl, alternative = alt,
        p = f$p.value, odds_ratio = if (is.finite(f$estimate)) unname(f$estimate) else "Inf",
        lower = if (is.finite(f$conf.int[1])) f$conf.int[1] else "Inf",
        upper = if (is.finite(f$conf.int[2])) f$conf.int[2] else "Inf"
      )
    }
  }
}

fisher_rxc <- list()
for (nm in names(rxc)) {
  m <- rxc[[nm]]
  fisher_rxc[[length(fisher_rxc) + 1]] <- list(table = nm, nrow = nrow(m), ncol = ncol(m),
                                               counts = as.vector(t(m)), p = fisher.test(m)$p.value)
}

chisq <- list()
for (nm in c(names(tables), names(rxc))) {
  m <- if (nm %in% names(tables)) tables[[nm]] else rxc[[nm]]
  for (corr in c(TRUE, FALSE)) {
    warned <- FALSE
    ct <- withCallingHandlers(chisq.test(m, correct = corr), warning = function(w) {
      warned <<- TRUE
      invokeRestart("muffleWarning")
    })
    chisq[[length(chisq) + 1]] <- list(
      table = nm, nrow = nrow(m), ncol = ncol(m), counts = as.vector(t(m)), correct = corr,
      statistic = unname(ct$statistic), df = unname(ct$parameter), p = ct$p.value,
      expected = as.vector(t(ct$expected)), warning = warned, method = ct$method
    )
  }
}

long <- do.call(rbind, lapply(c(names(tables), names(rxc)), function(nm) {
  m <- if (nm %in% names(tables)) tables[[nm]] else rxc[[nm]]
  data.frame(table = nm, row = as.vector(row(m)), col = as.vector(col(m)), count = as.vector(m))
}))
dir.create("tests/reference/data", showWarnings = FALSE, recursive = TRUE)
write.csv(long, "tests/reference/data/contingency_tables.csv", row.names = FALSE)

out <- list(
  meta = list(r = R.version.string, script = "tests/reference/r/contingency.R",
              note = "infinite odds ratios / limits are written as the string 'Inf'"),
  fisher_2x2 = fisher_2x2, fisher_rxc = fisher_rxc, chisq = chisq
)
dir.create("tests/reference/expected", showWarnings = FALSE, recursive = TRUE)
write_json(out, "tests/reference/expected/contingency.json", digits = NA, auto_unbox = TRUE,
           null = "null", na = "null", pretty = TRUE)
