# Log-rank (survdiff) and log-rank trend reference values.
# Run from the repository root: Rscript tests/reference/r/logrank_reference.R
# Writes tests/reference/data/logrank_<dataset>.csv and
# tests/reference/expected/logrank_reference.json.
# The trend test is checked two independent ways: survMisc::comp() "tft" (what
# survminer::surv_pvalue(test.for.trend = TRUE) reports, log-rank weights) and the score test
# of coxph(ties = "exact"), which is the log-rank statistic for a numeric covariate.
suppressPackageStartupMessages({
  library(survival)
  library(jsonlite)
  library(survMisc)
})
stopifnot(packageVersion("survival") >= "3.5")
invisible(Sys.setlocale("LC_COLLATE", "C"))  # sorted labels as Python sorts them

write_data <- function(d, name) {
  write.csv(d, file.path("tests/reference/data", paste0(name, ".csv")), row.names = FALSE,
            na = "")
}

lung_d <- data.frame(time = lung$time, status = lung$status - 1L, sex = lung$sex,
                     ph_ecog = lung$ph.ecog, inst = lung$inst,
                     age65 = ifelse(lung$age >= 65, "65+", "<65"))
veteran_d <- data.frame(time = veteran$time, status = veteran$status, trt = veteran$trt,
                        celltype = as.character(veteran$celltype))
cd <- colon[colon$etype == 2, ]
colon_d <- data.frame(time = cd$time, status = cd$status, rx = as.character(cd$rx),
                      sex = cd$sex)
pbc_d <- data.frame(time = pbc$time, status = as.integer(pbc$status == 2), trt = pbc$trt,
                    edema = pbc$edema)
ovarian_d <- data.frame(time = ovarian$futime, status = ovarian$fustat, rx = ovarian$rx,
                        resid_ds = ovarian$resid.ds)
set.seed(20240602)
n_t <- 90
adversarial_d <- rbind(
  # five distinct times for 90 patients in three groups
  data.frame(case = "heavy_ties", time = sample(c(3, 6, 9, 12, 15), n_t, replace = TRUE),
             status = rbinom(n_t, 1, 0.5), group = sample(c("a", "b", "c"), n_t, replace = TRUE)),
  # group "b" has no events
  data.frame(case = "zero_events", time = c(1, 2, 3, 4, 5, 6, 7, 8),
             status = c(1, 0, 1, 0, 1, 0, 1, 0), group = c("a", "b", "a", "b", "a", "b", "a", "b")),
  # group "c" is censored before the first event: expected 0, so df drops to 1
  data.frame(case = "zero_expected", time = c(0.5, 0.7, 2, 3, 4, 5, 6, 7),
             status = c(0, 0, 1, 1, 1, 0, 1, 1), group = c("c", "c", "a", "b", "a", "b", "b", "a")),
  data.frame(case = "all_censored", time = c(1, 2, 3, 4, 5, 6), status = rep(0, 6),
             group = c("a", "b", "a", "b", "a", "b")),
  # the last death has one patient at risk: it adds expected but no variance
  data.frame(case = "last_alone", time = c(1, 2, 2, 3, 5, 9), status = c(1, 1, 0, 1, 1, 1),
             group = c("a", "b", "b", "a", "b", "a")),
  # events tied with censorings across groups, with a missing group
  data.frame(case = "tied_missing", time = c(2, 2, 2, 2, 4, 4, 4, 6, 6, 8, 8, 10),
             status = c(1, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0, 1),
             group = c("x", "y", "y", NA, "x", "y", "x", "y", NA, "x", "y", "x"))
)
data_sets <- list(lung = lung_d, veteran = veteran_d, colon = colon_d, pbc = pbc_d,
                  ovarian = ovarian_d, adversarial = adversarial_d)
for (nm in names(data_sets)) write_data(data_sets[[nm]], paste0("logrank_", nm))
# read back what Python reads: an empty cell is a missing group on both sides
adversarial_d <- read.csv("tests/reference/data/logrank_adversarial.csv", na.strings = c("", "NA"))

subset_case <- function(d, case) if (is.null(case)) d else d[d$case == case, ]

lr_case <- function(name, dataset, group, strata = NULL, rho = 0, case = NULL) {
  d <- subset_case(data_sets[[dataset]], case)
  if (dataset == "adversarial") d <- subset_case(adversarial_d, case)
  keep <- !is.na(d[[group]])
  if (!is.null(strata)) keep <- keep & !is.na(d[[strata]])
  dd <- d[keep, ]
  lv <- sort(unique(as.character(dd[[group]])))
  dd$g <- factor(as.character(dd[[group]]), levels = lv)
  f <- if (is.null(strata)) Surv(time, status) ~ g else
    as.formula(paste0("Surv(time, status) ~ g + strata(", strata, ")"))
  sd <- survdiff(f, data = dd, rho = rho)
  obs <- if (is.matrix(sd$obs)) rowSums(sd$obs) else sd$obs
  exp <- if (is.matrix(sd$exp)) rowSums(sd$exp) else sd$exp
  df <- sum(exp > 0) - 1
  list(name = name, dataset = paste0("logrank_", dataset), case = case, group = group,
       strata = strata, rho = rho, groups = I(lv), n = I(as.vector(table(dd$g))),
       observed = I(unname(obs)), expected = I(unname(exp)), variance = unname(sd$var),
       chisq = sd$chisq, df = df, p = sd$pvalue, n_excluded_missing = sum(!keep))
}

cases <- list(
  lr_case("lung by sex", "lung", "sex"),
  lr_case("lung by ph_ecog", "lung", "ph_ecog"),
  lr_case("lung by sex, strata ph_ecog", "lung", "sex", strata = "ph_ecog"),
  lr_case("lung by sex, strata inst", "lung", "sex", strata = "inst"),
  lr_case("lung by ph_ecog, strata age65", "lung", "ph_ecog", strata = "age65"),
  lr_case("lung by sex, rho 1", "lung", "sex", rho = 1),
  lr_case("lung by ph_ecog, rho 1", "lung", "ph_ecog", rho = 1),
  lr_case("lung by sex, strata ph_ecog, rho 1", "lung", "sex", strata = "ph_ecog", rho = 1),
  lr_case("veteran by celltype, strata trt", "veteran", "celltype", strata = "trt"),
  lr_case("colon by rx", "colon", "rx"),
  lr_case("colon by rx, strata sex, rho 0.5", "colon", "rx", strata = "sex", rho = 0.5),
  lr_case("pbc by trt", "pbc", "trt"),
  lr_case("pbc by edema", "pbc", "edema"),
  lr_case("ovarian by rx", "ovarian", "rx"),
  lr_case("heavy ties", "adversarial", "group", case = "heavy_ties"),
  lr_case("heavy ties, rho 1", "adversarial", "group", rho = 1, case = "heavy_ties"),
  lr_case("zero events in a group", "adversarial", "group", case = "zero_events"),
  lr_case("zero expected in a group", "adversarial", "group", case = "zero_expected"),
  lr_case("all censored", "adversarial", "group", case = "all_censored"),
  lr_case("last death alone at risk", "adversarial", "group", case = "last_alone"),
  lr_case("ties with censoring, missing group", "adversarial", "group", case = "tied_missing")
)

one_group <- tryCatch(
  survdiff(Surv(time, status) ~ rep("a", 6), data = adversarial_d[adversarial_d$case == "all_censored", ]),
  error = function(e) conditionMessage(e))

trend_case <- function(name, dataset, group, scores = NULL, strata = NULL) {
  d <- data_sets[[dataset]]
  keep <- !is.na(d[[group]])
  if (!is.null(strata)) keep <- keep & !is.na(d[[strata]])
  dd <- d[keep, ]
  lv <- sort(unique(dd[[group]]))
  if (is.null(scores)) scores <- seq_along(lv)
  dd$g <- factor(dd[[group]], levels = lv)
  dd$score <- scores[as.integer(dd$g)]
  f <- if (is.null(strata)) Surv(time, status) ~ g else
    as.formula(paste0("Surv(time, status) ~ g + strata(", strata, ")"))
  sd <- survdiff(f, data = dd)
  obs <- if (is.matrix(sd$obs)) rowSums(sd$obs) else sd$obs
  exp <- if (is.matrix(sd$exp)) rowSums(sd$exp) else sd$exp
  u <- sum(scores * (obs - exp))
  v <- drop(t(scores) %*% sd$var %*% scores)
  cf <- if (is.null(strata)) Surv(time, status) ~ score else
    as.formula(paste0("Surv(time, status) ~ score + strata(", strata, ")"))
  cx <- coxph(cf, data = dd, ties = "exact")
  survmisc <- NA
  if (is.null(strata)) {
    # survMisc orders factor / character groups its own way, so give it the group codes
    # 1..k in sorted order as a number: its groups then line up with the scores
    dd$gnum <- as.integer(dd$g)
    tn <- ten(survfit(Surv(time, status) ~ gnum, data = dd))
    invisible(capture.output(comp(tn, scores = scores)))
    tft <- as.data.frame(attributes(tn)$tft$tft)
    survmisc <- tft$chiSq[tft$W == "1"]
  }
  list(name = name, dataset = paste0("logrank_", dataset), group = group, strata = strata,
       groups = I(as.character(lv)), scores = I(scores), statistic = u, variance = v,
       chisq = u^2 / v, p = pchisq(u^2 / v, 1, lower.tail = FALSE),
       coxph_exact_score = unname(cx$score), survmisc_chisq = survmisc,
       n_excluded_missing = sum(!keep))
}

trend <- list(
  trend_case("lung ph_ecog trend", "lung", "ph_ecog"),
  trend_case("lung ph_ecog trend, scores 0 1 2 5", "lung", "ph_ecog", scores = c(0, 1, 2, 5)),
  trend_case("lung ph_ecog trend, strata sex", "lung", "ph_ecog", strata = "sex"),
  trend_case("pbc edema trend", "pbc", "edema"),
  trend_case("ovarian resid_ds trend", "ovarian", "resid_ds")
)

write_json(list(meta = list(r = R.version.string,
                            survival = format(packageVersion("survival")),
                            survMisc = format(packageVersion("survMisc")),
                            jsonlite = format(packageVersion("jsonlite")),
                            script = "tests/reference/r/logrank_reference.R"),
                cases = cases, single_group_error = one_group, trend = trend),
           "tests/reference/expected/logrank_reference.json",
           digits = NA, auto_unbox = TRUE, null = "null", na = "null")
