# Weighted Kaplan-Meier reference values: survfit(Surv(time, status) ~ 1, weights = w),
# survival 3.5. Run from the repository root: Rscript tests/reference/r/km_weights.R
# Writes tests/reference/data/kmw_<dataset>.csv (time, status, w, [group]) and
# tests/reference/expected/km_weights.json.
# R's defaults with weights: weights that are not whole numbers -> robust = TRUE
# (infinitesimal-jackknife std.err of S, logse = FALSE); whole numbers -> Greenwood on the
# weighted counts. Each case records which (variance) and is also run with robust given.
source("tests/reference/r/km_common.R")

iptw <- function(treated, formula, data) {
  ps <- fitted(glm(formula, family = binomial, data = data))
  ifelse(treated, 1 / ps, 1 / (1 - ps))
}

kmw_case <- function(name, dataset, d, conf_type, robust = NULL, landmarks = numeric(0),
                     taus = numeric(0), probs = c(0.25, 0.5, 0.75)) {
  args <- list(formula = Surv(time, status) ~ 1, data = d, weights = d$w,
               conf.type = conf_type)
  if (!is.null(robust)) args$robust <- robust
  fit <- do.call(survfit, args)
  # fit$std.err is the SE of log S with logse = TRUE (Greenwood), of S itself otherwise
  se_s <- if (isTRUE(fit$logse)) fit$std.err * fit$surv else fit$std.err
  curve <- list(time = I(fit$time), n_risk = I(fit$n.risk), n_event = I(fit$n.event),
                n_censor = I(fit$n.censor), surv = I(fit$surv), std_err = I(se_s),
                lower = I(fit$lower), upper = I(fit$upper))
  q <- quantile(fit, probs = probs)
  quants <- lapply(seq_along(probs), function(i)
    list(p = probs[i], value = unname(q$quantile[i]), lower = unname(q$lower[i]),
         upper = unname(q$upper[i])))
  lms <- lapply(landmarks, function(t) {
    s <- summary(fit, times = t)
    list(time = t, surv = s$surv, std_err = s$std.err, lower = s$lower, upper = s$upper)
  })
  rms <- lapply(taus, function(tau) {
    tb <- summary(fit, rmean = tau)$table
    list(tau = tau, estimate = unname(tb["rmean"]), std_err = unname(tb["se(rmean)"]))
  })
  list(name = name, dataset = dataset, conf_type = conf_type,
       robust_arg = if (is.null(robust)) NULL else robust,
       variance = if (isTRUE(fit$logse)) "greenwood" else "robust",
       n = nrow(d), curve = curve, quantiles = quants, landmarks = lms, rmean = rms)
}

lung2 <- na.omit(lung[, c("time", "status", "age", "sex", "ph.ecog")])
lung2$status <- lung2$status - 1L
rownames(lung2) <- NULL
lung_d <- data.frame(time = lung2$time, status = lung2$status,
                     w = iptw(lung2$sex == 2, I(sex == 2) ~ age + ph.ecog, lung2),
                     group = ifelse(lung2$sex == 2, "F", "M"))
freq_d <- data.frame(time = lung2$time, status = lung2$status,
                     w = 1 + (seq_len(nrow(lung2)) %% 3))
vet_d <- data.frame(time = veteran$time, status = veteran$status,
                    w = 0.5 + veteran$karno / 100)
col <- subset(colon, etype == 2)
col <- na.omit(col[, c("time", "status", "rx", "sex", "age", "nodes")])
colon_d <- data.frame(time = col$time, status = col$status,
                      w = iptw(col$rx != "Obs", I(rx != "Obs") ~ sex + age + nodes, col),
                      group = as.character(col$rx))
# some rows with weight 0 (survfit allows them) and a few tied times
ov <- ovarian
zero_d <- data.frame(time = ov$futime, status = ov$fustat,
                     w = c(0, 1.25, 0.5, 2, 0, 1, 0.75, 1.5, 1, 0.25, 2.5, 1, 0, 1.75, 1, 0.5,
                           1, 1.25, 0.75, 1, 2, 1, 0.5, 1, 1.5, 1))
datasets <- list(lung = lung_d, freq = freq_d, veteran = vet_d, colon = colon_d, zero = zero_d)
for (nm in names(datasets)) write_data(datasets[[nm]], paste0("kmw_", nm))

lm_of <- function(d) default_landmarks(d$time, d$status)[-(1:2)]  # > 0: R's S = 1 rows agree
cases <- list()
for (nm in names(datasets)) {
  d <- datasets[[nm]]
  lms <- lm_of(d)
  lms <- lms[lms <= max(d$time)]
  taus <- unname(quantile(d$time, c(0.5, 0.9)))
  for (ct in c("log-log", "log", "plain")) {
    cases[[length(cases) + 1]] <- kmw_case(paste(nm, ct), paste0("kmw_", nm), d, ct,
                                           landmarks = lms, taus = taus)
  }
  other <- !all(d$w == floor(d$w))  # the variance R does not choose by default
  cases[[length(cases) + 1]] <- kmw_case(paste(nm, "log-log robust", !other),
                                         paste0("kmw_", nm), d, "log-log", robust = !other,
                                         landmarks = lms, taus = taus)
}
# per-group weighted curves (survfit(Surv(time, status) ~ group, weights = w))
groups <- list()
for (nm in c("lung", "colon")) {
  d <- datasets[[nm]]
  fit <- survfit(Surv(time, status) ~ group, data = d, weights = w, conf.type = "log-log")
  q <- quantile(fit, probs = 0.5)
  for (i in seq_along(fit$strata)) {
    lev <- sub("^group=", "", names(fit$strata)[i])
    f1 <- fit[i]
    groups[[length(groups) + 1]] <- list(
      dataset = paste0("kmw_", nm), group = lev, time = I(f1$time), surv = I(f1$surv),
      std_err = I(f1$std.err), lower = I(f1$lower), upper = I(f1$upper),
      median = unname(q$quantile[i]), median_lower = unname(q$lower[i]),
      median_upper = unname(q$upper[i]))
  }
}
write_fixture(list(meta = meta_info("tests/reference/r/km_weights.R"), cases = cases,
                   groups = groups), "km_weights")
cat("wrote tests/reference/expected/km_weights.json with", length(cases), "cases\n")
