# Kaplan-Meier reference values on survival's public data sets, for every conf.type.
# Run from the repository root: Rscript tests/reference/r/km_datasets.R
# Writes tests/reference/data/km_<dataset>.csv and tests/reference/expected/km_datasets.json.
source("tests/reference/r/km_common.R")

lung_d <- data.frame(time = lung$time, status = lung$status - 1L, sex = lung$sex,
                     ph_ecog = lung$ph.ecog, age = lung$age, inst = lung$inst)
veteran_d <- data.frame(time = veteran$time, status = veteran$status, trt = veteran$trt,
                        celltype = as.character(veteran$celltype), karno = veteran$karno)
ovarian_d <- data.frame(time = ovarian$futime, status = ovarian$fustat, rx = ovarian$rx)
cd <- colon[colon$etype == 2, ]
colon_d <- data.frame(time = cd$time, status = cd$status, rx = as.character(cd$rx),
                      sex = cd$sex)
pbc_d <- data.frame(time = pbc$time, status = as.integer(pbc$status == 2), trt = pbc$trt,
                    edema = pbc$edema)

datasets <- list(lung = lung_d, veteran = veteran_d, ovarian = ovarian_d, colon = colon_d,
                 pbc = pbc_d)
taus <- list(lung = c(365, 1022), veteran = c(100, 365), ovarian = c(500, 1000),
             colon = c(1825), pbc = c(1825, 3650))
for (nm in names(datasets)) write_data(datasets[[nm]], paste0("km_", nm))

cases <- list()
for (nm in names(datasets)) {
  d <- datasets[[nm]]
  for (ct in c("log-log", "log", "plain")) {
    cases[[length(cases) + 1]] <- km_case(
      paste(nm, ct), paste0("km_", nm), d$time, d$status, ct,
      landmarks = default_landmarks(d$time, d$status), taus = taus[[nm]])
  }
}
cases[[length(cases) + 1]] <- km_case("lung log-log 90%", "km_lung", lung_d$time,
                                      lung_d$status, "log-log", conf_level = 0.90,
                                      landmarks = c(180, 365, 730), taus = 365)

# survfit(~ group): per-stratum curves and medians (kaplan_meier_by)
by_group <- function(name, dataset, d, var, conf_type) {
  dd <- d[!is.na(d[[var]]), ]
  g <- factor(as.character(dd[[var]]), levels = sort(unique(as.character(dd[[var]]))))
  fit <- survfit(Surv(dd$time, dd$status) ~ g, conf.type = conf_type)
  q <- quantile(fit, probs = 0.5)
  groups <- lapply(seq_along(levels(g)), function(i) {
    f <- fit[i]
    list(label = levels(g)[i], n = unname(fit$n[i]), time = I(f$time),
         n_risk = I(f$n.risk), surv = I(f$surv), lower = I(f$lower), upper = I(f$upper),
         median = list(estimate = unname(q$quantile[i]), lower = unname(q$lower[i]),
                       upper = unname(q$upper[i])))
  })
  list(name = name, dataset = dataset, variable = var, conf_type = conf_type,
       n_missing = sum(is.na(d[[var]])), groups = groups)
}
by <- list(by_group("lung by sex", "km_lung", lung_d, "sex", "log-log"),
           by_group("lung by ph_ecog", "km_lung", lung_d, "ph_ecog", "log"),
           by_group("colon by rx", "km_colon", colon_d, "rx", "log-log"),
           by_group("pbc by trt", "km_pbc", pbc_d, "trt", "plain"))

write_fixture(list(meta = meta_info("tests/reference/r/km_datasets.R"), cases = cases,
                   by_group = by), "km_datasets")
