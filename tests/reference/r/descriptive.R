# Reference values for mmrwe.stats.descriptive (Table 1): quantile type 7, wilcox.test
# (exact and normal approximation), kruskal.test. Run from the repository root:
#   Rscript tests/reference/r/descriptive.R
suppressMessages({library(survival); library(jsonlite)})
dir.create("tests/reference/data", showWarnings = FALSE, recursive = TRUE)
dir.create("tests/reference/expected", showWarnings = FALSE, recursive = TRUE)

d <- lung[, c("age", "sex", "ph.ecog", "wt.loss", "meal.cal")]
write.csv(d, "tests/reference/data/descriptive_lung.csv", row.names = FALSE, na = "")

set.seed(7)
a <- round(rnorm(12, 10, 2), 4); b <- round(rnorm(15, 11, 2), 4)    # no ties: exact test
write.csv(data.frame(value = c(a, b), group = rep(c("a", "b"), c(12, 15))),
          "tests/reference/data/descriptive_small.csv", row.names = FALSE)

q <- function(x) unname(quantile(x, c(.25, .5, .75), type = 7, na.rm = TRUE))
wt <- function(x, y) { r <- suppressWarnings(wilcox.test(x, y)); list(statistic = unname(r$statistic), p = r$p.value, method = r$method) }
kw <- function(x, g) { r <- kruskal.test(x, g); list(statistic = unname(r$statistic), df = unname(r$parameter), p = r$p.value) }

out <- list(
  meta = list(r = R.version.string, survival = format(packageVersion("survival"))),
  quantiles = list(age = q(d$age), wt_loss = q(d$wt.loss), meal_cal = q(d$meal.cal)),
  sd = list(age = sd(d$age), wt_loss = sd(d$wt.loss, na.rm = TRUE)),
  wilcox_age_by_sex = wt(d$age[d$sex == 1], d$age[d$sex == 2]),
  wilcox_wtloss_by_sex = wt(d$wt.loss[d$sex == 1], d$wt.loss[d$sex == 2]),
  wilcox_small_exact = wt(a, b),
  kruskal_age_by_ecog = kw(d$age, factor(d$ph.ecog)),
  kruskal_meal_by_ecog = kw(d$meal.cal, factor(d$ph.ecog))
)
write_json(out, "tests/reference/expected/descriptive.json", digits = NA, auto_unbox = TRUE, pretty = TRUE)
