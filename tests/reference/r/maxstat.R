# Maximally selected rank statistics (R maxstat 0.7): cut-off, statistic M, Lau92 / Lau94
# p-values, the profile of standardized statistics, exact critical values, conditional
# Monte-Carlo p-values, and the Cox HR low vs high at the cut (survival, Efron ties).
# Run from the repository root: Rscript tests/reference/r/maxstat.R
suppressMessages({library(survival); library(maxstat); library(jsonlite)})
data_dir <- "tests/reference/data"
out_json <- "tests/reference/expected/maxstat.json"

# --- data sets (public R data and small synthetic / adversarial cases) --------------------
lung_d <- with(lung, data.frame(time = time, status = as.integer(status == 2), age = age,
                                karno = ph.karno))
lung_d <- lung_d[!is.na(lung_d$karno), ]
vet_d <- with(veteran, data.frame(time = time, status = status, karno = karno, age = age))
pbc_d <- with(pbc[1:312, ], data.frame(time = time, status = as.integer(status == 2),
                                        bili = bili, ascites = ascites, albumin = albumin))
data(DLBCL)
dlbcl_d <- na.omit(with(DLBCL, data.frame(time = time, status = cens, mge = MGE, ipi = IPI)))
set.seed(42)  # synthetic 51-patient cohort, hemoglobin-like variable
hgb <- round(rnorm(51, 11.5, 1.6), 1)
rate <- ifelse(hgb <= 11.8, 1 / 4.5, 1 / 14)
t_ev <- rexp(51, rate); t_c <- runif(51, 6, 30)
demo_d <- data.frame(time = round(pmin(t_ev, t_c), 2), status = as.integer(t_ev <= t_c), hgb = hgb)
small_d <- data.frame(time = c(1, 2, 2, 3, 4, 4, 4, 5, 6, 7, 8, 9),
                      status = c(1, 1, 0, 1, 1, 1, 0, 0, 1, 0, 1, 0),
                      x = c(3, 1, 2, 2, 5, 3, 3, 8, 7, 7, 6, 2))
# a monotone-likelihood case (the only low patient dies first) and, as a binary outcome,
# a mirror-symmetric one whose standardized statistic ties exactly at cuts 1 and 5
tie_d <- data.frame(time = c(1, 2, 3, 4, 5, 6), status = c(1, 0, 0, 0, 0, 1),
                    x = c(1, 2, 3, 4, 5, 6), y = c(1, 0, 0, 0, 0, 1))

sets <- list(maxstat_lung = lung_d, maxstat_veteran = vet_d, maxstat_pbc = pbc_d,
             maxstat_dlbcl = dlbcl_d, maxstat_demo = demo_d, maxstat_small = small_d,
             maxstat_tie = tie_d)
for (nm in names(sets)) {  # R then reads back exactly what Python reads
  write.csv(sets[[nm]], file.path(data_dir, paste0(nm, ".csv")), row.names = FALSE)
  sets[[nm]] <- read.csv(file.path(data_dir, paste0(nm, ".csv")))
}
demo_d <- sets$maxstat_demo
lung_d <- sets$maxstat_lung

exact_quant <- function(fun, alpha) uniroot(function(b) fun(b) - alpha, c(1, 50), tol = 1e-13)$root

survival_case <- function(data, x, minprop = 0.1, maxprop = 0.9, alpha = 0.05) {
  d <- sets[[data]]
  f <- as.formula(paste("Surv(time, status) ~", x))
  r94 <- maxstat.test(f, data = d, smethod = "LogRank", pmethod = "Lau94",
                      minprop = minprop, maxprop = maxprop)
  r92 <- maxstat.test(f, data = d, smethod = "LogRank", pmethod = "Lau92",
                      minprop = minprop, maxprop = maxprop)
  N <- nrow(d)
  xs <- sort(d[[x]]); m <- which(!duplicated(xs)) - 1
  if (minprop == 0 & maxprop == 1) m <- m[2:(length(m) - 1)] else {
    m <- m[m >= max(1, floor(N * minprop))]; m <- m[m <= floor(N * maxprop)] }
  cut <- unname(r94$estimate)
  d$low <- as.integer(d[[x]] <= cut)
  fit <- coxph(Surv(time, status) ~ low, data = d, ties = "efron")
  s <- summary(fit, conf.int = 0.95)
  q94 <- exact_quant(function(b) maxstat:::pLausen94(b, N, minprop, maxprop, m = m), alpha)
  q92 <- if (minprop > 0 && maxprop < 1)
    exact_quant(function(b) maxstat:::pLausen92(b, minprop, maxprop), alpha) else NA
  list(kind = "survival", data = data, x = x, minprop = minprop, maxprop = maxprop, alpha = alpha,
       n = N, cutpoint = cut, statistic = unname(r94$statistic),
       p_lau94 = r94$p.value, p_lau92 = r92$p.value, critical_lau94 = q94, critical_lau92 = q92,
       n_low = sum(d$low), events_low = sum(d$status[d$low == 1]),
       cuts = r94$cuts, stats = unname(r94$stats), m = m,
       scores = unname(as.numeric(exactRankTests::cscores(Surv(d$time, d$status), int = FALSE))),
       hr = list(coef = unname(coef(fit)), se = unname(sqrt(fit$var[1, 1])),
                 hr = unname(s$conf.int[1, 1]), lower = unname(s$conf.int[1, 3]),
                 upper = unname(s$conf.int[1, 4]), p = unname(s$coefficients[1, 5])))
}

binary_case <- function(data, y, x, smethod, minprop = 0.1, maxprop = 0.9) {
  d <- sets[[data]]; d <- d[!is.na(d[[y]]) & !is.na(d[[x]]), ]
  f <- as.formula(paste(y, "~", x))
  r94 <- maxstat.test(f, data = d, smethod = smethod, pmethod = "Lau94", minprop = minprop,
                      maxprop = maxprop)
  r92 <- maxstat.test(f, data = d, smethod = smethod, pmethod = "Lau92", minprop = minprop,
                      maxprop = maxprop)
  cut <- unname(r94$estimate)
  list(kind = "binary", data = data, y = y, x = x, smethod = smethod, minprop = minprop,
       maxprop = maxprop, n = nrow(d), cutpoint = cut, statistic = unname(r94$statistic),
       p_lau94 = r94$p.value, p_lau92 = r92$p.value, n_low = sum(d[[x]] <= cut),
       events_low = sum(d[[y]][d[[x]] <= cut]), cuts = r94$cuts, stats = unname(r94$stats),
       rows = which(!is.na(sets[[data]][[y]]) & !is.na(sets[[data]][[x]])) - 1)
}

cases <- list(
  lung_age = survival_case("maxstat_lung", "age"),
  lung_karno = survival_case("maxstat_lung", "karno"),
  veteran_karno = survival_case("maxstat_veteran", "karno", 0.2, 0.8),
  veteran_age_asym = survival_case("maxstat_veteran", "age", 0.1, 0.7),
  pbc_bili = survival_case("maxstat_pbc", "bili"),
  pbc_albumin_0_1 = survival_case("maxstat_pbc", "albumin", 0, 1),
  dlbcl_mge = survival_case("maxstat_dlbcl", "mge"),
  demo_hgb = survival_case("maxstat_demo", "hgb"),
  small_x = survival_case("maxstat_small", "x", 0.25, 0.75),
  monotone_x = survival_case("maxstat_tie", "x", 0.1, 0.9),
  # minprop alone: R keeps its default maxprop = 0.9 (the search is not symmetric)
  lung_age_minprop_0_2 = survival_case("maxstat_lung", "age", minprop = 0.2),
  veteran_karno_minprop_0_3 = survival_case("maxstat_veteran", "karno", minprop = 0.3),
  pbc_ascites_data = binary_case("maxstat_pbc", "ascites", "bili", "Data"),
  pbc_ascites_wilcoxon = binary_case("maxstat_pbc", "ascites", "bili", "Wilcoxon"),
  lung_status_age = binary_case("maxstat_lung", "status", "age", "Wilcoxon", 0.2, 0.8),
  lung_status_age_minprop_0_2 = binary_case("maxstat_lung", "status", "age", "Wilcoxon",
                                            minprop = 0.2),
  tie_binary = binary_case("maxstat_tie", "y", "x", "Data")
)

# conditional Monte Carlo p (R's RNG differs from numpy's: compared in distribution)
set.seed(1)
mc_lung <- maxstat.test(Surv(time, status) ~ age, data = lung_d, smethod = "LogRank",
                        pmethod = "condMC", B = 20000)
set.seed(2)
mc_demo <- maxstat.test(Surv(time, status) ~ hgb, data = demo_d, smethod = "LogRank",
                        pmethod = "condMC", B = 20000)
condmc <- list(lung_age = list(data = "maxstat_lung", x = "age", B = 20000, p = mc_lung$p.value),
               demo_hgb = list(data = "maxstat_demo", x = "hgb", B = 20000, p = mc_demo$p.value))

# maxstat on bootstrap-style replicated rows (what each bootstrap resample computes)
set.seed(3)
idx <- sample(nrow(demo_d), replace = TRUE)
rb <- maxstat.test(Surv(time, status) ~ hgb, data = demo_d[idx, ], smethod = "LogRank",
                   pmethod = "Lau94")
dd <- demo_d[idx, ]; dd$low <- as.integer(dd$hgb <= rb$estimate)
fb <- coxph(Surv(time, status) ~ low, data = dd, ties = "efron")
replicated <- list(data = "maxstat_demo", x = "hgb", rows = idx - 1,
                   cutpoint = unname(rb$estimate), statistic = unname(rb$statistic),
                   coef = unname(coef(fb)), se = unname(sqrt(fb$var[1, 1])))

meta <- list(r = R.version.string, maxstat = format(packageVersion("maxstat")),
             survival = format(packageVersion("survival")),
             exactRankTests = format(packageVersion("exactRankTests")),
             jsonlite = format(packageVersion("jsonlite")))
write_json(list(meta = meta, cases = cases, condmc = condmc, replicated = replicated), out_json,
           digits = NA, auto_unbox = TRUE, null = "null", na = "null")
cat("wrote", out_json, "\n")
