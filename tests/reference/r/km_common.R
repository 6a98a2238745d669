# Shared helpers for the km_*.R fixture scripts (sourced; writes nothing by itself).
# Run the fixture scripts from the repository root, e.g.
#   Rscript tests/reference/r/km_datasets.R
suppressPackageStartupMessages({
  library(survival)
  library(jsonlite)
})
stopifnot(packageVersion("survival") >= "3.5")
invisible(Sys.setlocale("LC_COLLATE", "C"))  # sorted labels as Python sorts them

meta_info <- function(script) {
  list(r = R.version.string,
       survival = format(packageVersion("survival")),
       jsonlite = format(packageVersion("jsonlite")),
       script = script)
}

write_fixture <- function(x, name) {
  write_json(x, file.path("tests/reference/expected", paste0(name, ".json")),
             digits = NA, auto_unbox = TRUE, null = "null", na = "null", pretty = FALSE)
}

write_data <- function(d, name) {
  write.csv(d, file.path("tests/reference/data", paste0(name, ".csv")), row.names = FALSE,
            na = "")
}

# One KM case: curve, quantiles (R quantile.survfit), landmarks (summary(fit, times)),
# restricted mean (summary(fit, rmean)$table), reverse-KM follow-up median.
# I() keeps length-1 vectors as JSON arrays despite auto_unbox.
km_case <- function(name, dataset, time, status, conf_type, conf_level = 0.95,
                    landmarks = numeric(0), taus = numeric(0), probs = c(0.25, 0.5, 0.75)) {
  fit <- survfit(Surv(time, status) ~ 1, conf.type = conf_type, conf.int = conf_level)
  curve <- list(time = I(fit$time), n_risk = I(fit$n.risk), n_event = I(fit$n.event),
                n_censor = I(fit$n.censor), surv = I(fit$surv),
                std_err_log = I(fit$std.err), std_err = I(fit$std.err * fit$surv),
                lower = I(fit$lower), upper = I(fit$upper))
  q <- quantile(fit, probs = probs)
  quants <- lapply(seq_along(probs), function(i)
    list(p = probs[i], value = unname(q$quantile[i]), lower = unname(q$lower[i]),
         upper = unname(q$upper[i])))
  lms <- lapply(landmarks, function(t) {
    if (t > max(fit$time)) {
      # summary(extend = FALSE) reports nothing beyond the last time: the contract says
      # NA estimates and nobody at risk
      list(time = t, surv = NA, std_err = NA, lower = NA, upper = NA, n_risk = 0L)
    } else {
      s <- summary(fit, times = t)
      list(time = t, surv = s$surv, std_err = s$std.err, lower = s$lower, upper = s$upper,
           n_risk = s$n.risk)
    }
  })
  rms <- lapply(taus, function(tau) {
    tb <- summary(fit, rmean = tau)$table
    list(tau = tau, estimate = unname(tb["rmean"]), std_err = unname(tb["se(rmean)"]))
  })
  rfit <- survfit(Surv(time, 1 - status) ~ 1, conf.type = conf_type, conf.int = conf_level)
  rq <- quantile(rfit, probs = 0.5)
  list(name = name, dataset = dataset, conf_type = conf_type, conf_level = conf_level,
       n = length(time), events = sum(status), curve = curve, quantiles = quants,
       landmarks = lms, rmean = rms,
       followup = list(estimate = unname(rq$quantile), lower = unname(rq$lower),
                       upper = unname(rq$upper)))
}

# Landmarks that hit event times exactly, fall between them, sit at 0, at the last time
# and beyond it.
default_landmarks <- function(time, status) {
  ev <- sort(unique(time[status == 1]))
  pick <- if (length(ev)) unique(ev[unique(ceiling(c(0.1, 0.3, 0.5, 0.8) * length(ev)))]) else numeric(0)
  between <- if (length(ev) > 1) (ev[-length(ev)][unique(ceiling(c(0.2, 0.6) * (length(ev) - 1)))] +
                                     ev[-1][unique(ceiling(c(0.2, 0.6) * (length(ev) - 1)))]) / 2 else numeric(0)
  sort(unique(c(0, min(time) / 2, pick, between, max(time), max(time) + 1)))
}
