# ROC / Youden cut-offs (R cutpointr 1.1, maximize_metric + youden, break_ties = median) and
# the DeLong AUC interval (pROC::ci.auc(method = "delong")) with the direction fixed.
# Run from the repository root: Rscript tests/reference/r/cutpointr.R
suppressMessages({library(survival); library(cutpointr); library(pROC); library(jsonlite)})
data_dir <- "tests/reference/data"
out_json <- "tests/reference/expected/cutpointr.json"

lung_d <- with(lung, data.frame(age = age, karno = ph.karno, event = as.integer(status == 2)))
lung_d <- lung_d[!is.na(lung_d$karno), ]
pbc_d <- with(pbc[1:312, ], data.frame(bili = bili, albumin = albumin,
                                        event = as.integer(status == 2)))
set.seed(42)  # the same synthetic 51-patient cohort as maxstat.R
hgb <- round(rnorm(51, 11.5, 1.6), 1)
rate <- ifelse(hgb <= 11.8, 1 / 4.5, 1 / 14)
t_ev <- rexp(51, rate); t_c <- runif(51, 6, 30)
demo_d <- data.frame(hgb = hgb, event = as.integer(t_ev <= t_c))
# tied optimal cuts: {3, 5}, whose median 4 has a lower Youden index
tie_d <- data.frame(x = c(1, 2, 3, 4, 5, 6), event = c(0, 0, 1, 0, 1, 1))
# tied optimal cuts whose median is not an observed value
gap_d <- data.frame(x = c(1, 2, 3, 6, 9, 10), event = c(0, 1, 0, 1, 1, 0))

sets <- list(cutpointr_lung = lung_d, cutpointr_pbc = pbc_d, cutpointr_demo = demo_d,
             cutpointr_tie = tie_d, cutpointr_gap = gap_d)
for (nm in names(sets)) {
  write.csv(sets[[nm]], file.path(data_dir, paste0(nm, ".csv")), row.names = FALSE)
  sets[[nm]] <- read.csv(file.path(data_dir, paste0(nm, ".csv")))
}

one <- function(data, x, direction, conf_level = 0.95) {
  d <- sets[[data]]
  cp <- suppressMessages(cutpointr(d, !!rlang::sym(x), event, direction = direction,
                                   pos_class = 1, neg_class = 0, method = maximize_metric,
                                   metric = youden, break_ties = median, silent = TRUE))
  roc_curve <- cp$roc_curve[[1]]
  m <- youden(roc_curve$tp, roc_curve$fp, roc_curve$tn, roc_curve$fn)[, 1]
  best <- max(m, na.rm = TRUE)
  tied <- roc_curve$x.sorted[m >= best - 1e-6 & m <= best + 1e-6]
  r <- roc(d$event, d[[x]], levels = c(0, 1), direction = if (direction == ">=") "<" else ">",
           quiet = TRUE)
  ci <- ci.auc(r, method = "delong", conf.level = conf_level)
  list(data = data, x = x, direction = direction, conf_level = conf_level, n = nrow(d),
       cutpoint = unname(unlist(cp$optimal_cutpoint)), sensitivity = unname(unlist(cp$sensitivity)),
       specificity = unname(unlist(cp$specificity)), youden = unname(unlist(cp$youden)),
       auc_cutpointr = cp$AUC, auc = as.numeric(r$auc), auc_lower = ci[1], auc_upper = ci[3],
       tied = sort(tied[is.finite(tied)]), max_youden = best)
}

cases <- list(
  lung_age_ge = one("cutpointr_lung", "age", ">="),
  lung_age_le = one("cutpointr_lung", "age", "<="),
  lung_karno_le = one("cutpointr_lung", "karno", "<="),
  pbc_bili_ge = one("cutpointr_pbc", "bili", ">="),
  pbc_albumin_le_90 = one("cutpointr_pbc", "albumin", "<=", 0.90),
  demo_hgb_le = one("cutpointr_demo", "hgb", "<="),
  tie_ge = one("cutpointr_tie", "x", ">="),
  gap_ge = one("cutpointr_gap", "x", ">="),
  gap_le = one("cutpointr_gap", "x", "<=")
)
meta <- list(r = R.version.string, cutpointr = format(packageVersion("cutpointr")),
             pROC = format(packageVersion("pROC")), jsonlite = format(packageVersion("jsonlite")))
write_json(list(meta = meta, cases = cases), out_json, digits = NA, auto_unbox = TRUE,
           null = "null", na = "null")
cat("wrote", out_json, "\n")
