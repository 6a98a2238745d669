# End-to-end reference for the Cox term tests (cox[].term_tests) and the subgroup analyses
# (subgroups[]): survival's `veteran` turned into a canonical patient table, analysed in R the
# way the spec in tests/reference/test_pipeline_terms_subgroups.py asks mmrwe to.
# Run from the repository root:
#   Rscript tests/reference/r/e2e_veteran.R
# Writes tests/reference/data/e2e_veteran_patients.csv and
# tests/reference/expected/e2e_veteran.json.
#
# Every model is fitted on the complete cases of its own variables (mmrwe drops rows missing a
# term; car::Anova's refits must see the same rows, so the data are subset before the fit).
# Times: mmrwe analyses days / 30.4375 (months); a Cox model depends on the order of the times
# only, so R fits the days.
source("tests/reference/r/cox_common.R")
suppressPackageStartupMessages(library(car))

d <- veteran
n <- nrow(d)
d$patient_id <- sprintf("V%03d", seq_len(n))
d$center <- paste0("C", (seq_len(n) %% 4) + 1)
origin <- as.Date("2015-01-05") + (seq_len(n) * 3) %% 200  # staggered entry
d$arm <- ifelse(d$trt == 1, "standard", "test")
d$celltype <- as.character(d$celltype)
d$celltype[c(5, 50, 100)] <- NA  # three patients without a cell type: complete cases
d$karno_grp <- as.character(cut(d$karno, c(0, 40, 60, 100), labels = c("low", "mid", "high")))
d$prior <- ifelse(d$prior == 10, "yes", "no")
out <- data.frame(
  patient_id = d$patient_id, center = d$center, start_date = format(origin),
  progression_date = "", death_date = ifelse(d$status == 1, format(origin + d$time), ""),
  last_followup_date = format(origin + d$time), arm = d$arm, celltype = d$celltype,
  karno = d$karno, karno_grp = d$karno_grp, age = d$age, prior = d$prior
)
write.csv(out, file.path(data_dir, "e2e_veteran_patients.csv"), row.names = FALSE, na = "")

# factors as mmrwe orders them: sorted levels (C locale), karno_grp as declared in the spec
d$celltype <- factor(d$celltype)
d$arm <- factor(d$arm)
d$karno_grp <- factor(d$karno_grp, levels = c("low", "mid", "high"))
d$prior <- factor(d$prior)
d$center <- factor(d$center)

tab <- function(a, stat_col, df_col, p_col) {
  out <- list()
  for (r in rownames(a)) {
    if (r %in% c("<none>", "NULL")) next
    out[[r]] <- list(chisq = a[r, stat_col], df = a[r, df_col], p = a[r, p_col])
  }
  out
}
cc <- function(vars) d[complete.cases(d[, vars]), ]

# [[cox]] 1: OS ~ celltype + arm + karno + age, term_tests = "II" (car::Anova type II LR)
m1d <- cc(c("celltype", "arm", "karno", "age"))
m1 <- coxph(Surv(time, status) ~ celltype + arm + karno + age, data = m1d)
# [[cox]] 2: OS ~ karno_grp + celltype, term_tests = "sequential" (anova: terms in order)
m2d <- cc(c("karno_grp", "celltype"))
m2 <- coxph(Surv(time, status) ~ karno_grp + celltype, data = m2d)
# [[cox]] 3: OS ~ celltype + karno, cluster = "center": robust variance, so type II Wald
m3d <- cc(c("celltype", "karno", "center"))
m3 <- coxph(Surv(time, status) ~ celltype + karno, data = m3d, cluster = center)
# [[cox]] 4: OS ~ karno_grp + age, strata = "prior": LR refits within the strata (drop1; car
# would substitute Wald because it cannot refit within strata)
m4d <- cc(c("karno_grp", "age", "prior"))
m4 <- coxph(Surv(time, status) ~ karno_grp + age + strata(prior), data = m4d)

cox <- list(
  list(model = "celltype + arm + karno + age", n = m1$n, events = m1$nevent,
       coef = as.list(setNames(unname(coef(m1)), mm_names(coxph(formula(m1), data = m1d, x = TRUE)))),
       car_lr = tab(Anova(m1, type = "II"), "LR Chisq", "Df", "Pr(>Chisq)"),
       car_wald = tab(Anova(m1, type = "II", test.statistic = "Wald"), "Chisq", "Df", "Pr(>Chisq)")),
  list(model = "karno_grp + celltype", n = m2$n, events = m2$nevent,
       sequential = tab(anova(m2), "Chisq", "Df", "Pr(>|Chi|)")),
  list(model = "celltype + karno, cluster = center", n = m3$n, events = m3$nevent,
       car_wald_robust = tab(Anova(m3, type = "II", test.statistic = "Wald"), "Chisq", "Df",
                             "Pr(>Chisq)")),
  list(model = "karno_grp + age + strata(prior)", n = m4$n, events = m4$nevent,
       drop1 = tab(drop1(m4, test = "Chisq"), "LRT", "Df", "Pr(>Chi)"))
)

# [[subgroup]]: arm within each level of celltype, karno_grp and prior. Per level
# coxph(Surv ~ arm) on the level's rows (Wald CI and p, summary.coxph); interaction
# anova(coxph(~ arm + by), coxph(~ arm * by)); overall coxph(Surv ~ arm) on every patient.
subgroup <- function(ref) {
  dd <- d
  dd$arm <- relevel(dd$arm, ref = ref)
  one <- function(s) {
    f <- coxph(Surv(time, status) ~ arm, data = s)
    sm <- summary(f)
    list(n = nrow(s), events = sum(s$status), coef = unname(coef(f)), hr = sm$conf.int[1, 1],
         lower = sm$conf.int[1, 3], upper = sm$conf.int[1, 4],
         p = sm$coefficients[1, "Pr(>|z|)"], se = sm$coefficients[1, "se(coef)"])
  }
  res <- list(effect_levels = I(levels(dd$arm)), overall = one(dd), by = list())
  for (by in c("celltype", "karno_grp", "prior")) {
    s <- dd[!is.na(dd[[by]]), ]
    s$by <- s[[by]]
    levels_out <- list()
    for (lev in levels(s$by)) levels_out[[lev]] <- one(s[s$by == lev, ])
    a <- anova(coxph(Surv(time, status) ~ arm + by, data = s),
               coxph(Surv(time, status) ~ arm * by, data = s))
    res$by[[by]] <- list(levels = levels_out, level_order = I(levels(s$by)),
                         n_excluded_missing = sum(is.na(dd[[by]])),
                         interaction = list(chisq = a[2, "Chisq"], df = a[2, "Df"],
                                            p = a[2, "Pr(>|Chi|)"]))
  }
  res
}

write_json(list(meta = c(meta_info("tests/reference/r/e2e_veteran.R"),
                         car = format(packageVersion("car"))),
                cox = cox, subgroup_standard = subgroup("standard"),
                subgroup_test = subgroup("test")),
           "tests/reference/expected/e2e_veteran.json", digits = NA, auto_unbox = TRUE,
           null = "null", na = "null", pretty = TRUE)
cat("wrote tests/reference/expected/e2e_veteran.json\n")
