# Kaplan-Meier reference values on small adversarial cases, for every conf.type.
# Run from the repository root: Rscript tests/reference/r/km_adversarial.R
# Writes tests/reference/data/km_adversarial.csv and tests/reference/expected/km_adversarial.json.
source("tests/reference/r/km_common.R")

set.seed(20240601)
heavy_n <- 60
raw <- list(
  # times rounded to five values: every time is heavily tied, events with censorings
  heavy_ties = list(time = sample(c(2, 4, 6, 8, 10), heavy_n, replace = TRUE),
                    status = rbinom(heavy_n, 1, 0.6)),
  all_censored = list(time = c(3, 5, 5, 8, 13), status = c(0, 0, 0, 0, 0)),
  single_event = list(time = 5, status = 1),
  single_censored = list(time = 5, status = 0),
  event_at_zero = list(time = c(0, 0, 1, 2, 3, 4, 6), status = c(1, 0, 1, 0, 1, 1, 0)),
  # S = 3/4, 1/2, 1/4, 0: exactly 0.5 on [2, 3), median 2.5 (midpoint)
  half_plateau = list(time = c(1, 2, 3, 4), status = c(1, 1, 1, 1)),
  # S = 0.9, ..., 0.5 at 5, ...: median 5.5; also the hand example of median_symmetric
  ten_events = list(time = 1:10, status = rep(1, 10)),
  # S reaches 0.5 at 2 and the curve ends there: median (2 + 4) / 2 = 3
  ends_on_half = list(time = c(1, 2, 3, 4), status = c(1, 1, 0, 0)),
  # (5/6)(4/5)(3/4) is 0.5 only up to rounding: R's sqrt(eps) tolerance applies
  rounded_half = list(time = 1:6, status = rep(1, 6)),
  not_reached = list(time = 1:10, status = c(1, 0, 1, 0, 0, 1, 0, 0, 0, 0)),
  censor_tied = list(time = c(2, 2, 2, 3, 3, 5, 5, 5, 8, 8, 9),
                     status = c(1, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0)),
  all_same_time = list(time = rep(7, 5), status = rep(1, 5)),
  # months from whole days, as mmrwe computes them (days / 30.4375)
  months = list(time = sample(c(15, 30, 61, 91, 122, 183, 244, 365, 400, 730), 40,
                              replace = TRUE) / 30.4375,
                status = rbinom(40, 1, 0.7))
)
adv <- do.call(rbind, lapply(names(raw), function(nm)
  data.frame(case = nm, time = raw[[nm]]$time, status = raw[[nm]]$status)))
write_data(adv, "km_adversarial")
# read back what Python will read, so both sides use the same doubles
adv <- read.csv("tests/reference/data/km_adversarial.csv")

cases <- list()
for (nm in names(raw)) {
  d <- adv[adv$case == nm, ]
  taus <- unique(c(max(d$time), (min(d$time) + max(d$time)) / 2))
  for (ct in c("log-log", "log", "plain")) {
    cases[[length(cases) + 1]] <- km_case(
      paste(nm, ct), nm, d$time, d$status, ct,
      landmarks = default_landmarks(d$time, d$status), taus = taus)
  }
}
write_fixture(list(meta = meta_info("tests/reference/r/km_adversarial.R"), cases = cases),
              "km_adversarial")
