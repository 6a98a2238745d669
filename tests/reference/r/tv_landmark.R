# Reference fixtures for the time-varying Cox model ([[tv_cox]]), the landmark analysis
# ([km] landmark_from) and duration of response (DoR), run through the mmrwe pipeline on the
# Stanford heart transplant data (survival::jasa, public), with the transplant standing in for
# the response: day 0 = acceptance into the program, first_response_date = transplant date,
# death_date / last_followup_date = follow-up date (no progression recorded).
# Run from the repository root: Rscript tests/reference/r/tv_landmark.R
# Writes tests/reference/data/jasa_patients.csv (the patient table as mmrwe reads it) and
# tests/reference/expected/tv_landmark.json. survival 3.5.
#
# Conventions matched (docs/clinical.md section 6):
# * tv_cox: follow-up split at the transplant by tmerge(tdc(txtime)); coxph(Surv(tstart, tstop,
#   death) ~ trt + ..., cluster = id): robust variance by patient. A patient with zero
#   follow-up (futime 0: death on the day of acceptance) has no (start, stop] interval and is
#   left out, as coxph refuses stop <= start.
# * landmark (30 days): patients with futime > 30; responder = transplant on or before day 30;
#   survfit/survdiff of Surv(futime - 30, fustat) by group, conf.type = "log-log".
# * DoR: transplanted patients, Surv(futime - txtime, fustat): survfit, survdiff by surgery,
#   coxph ~ age, maxstat.test ~ age (LogRank, Lau94, minprop 0.1, maxprop 0.9; maxstat 0.7).
suppressMessages({library(survival); library(maxstat); library(jsonlite)})
out_json <- "tests/reference/expected/tv_landmark.json"
data_dir <- "tests/reference/data"

j <- jasa
j$id <- seq_len(nrow(j))
j$futime <- as.numeric(j$fu.date - j$accept.dt)
j$txtime <- as.numeric(j$tx.date - j$accept.dt)
iso <- function(d) ifelse(is.na(d), "", format(d, "%Y-%m-%d"))
pts <- data.frame(
  patient_id = sprintf("J%03d", j$id),
  start_date = iso(j$accept.dt),
  progression_date = "",
  death_date = iso(ifelse(j$fustat == 1, j$fu.date, NA) + as.Date("1970-01-01")),
  last_followup_date = iso(j$fu.date),
  first_response_date = iso(j$tx.date),
  age = sprintf("%.17g", j$age),
  surgery = j$surgery
)
write.csv(pts, file.path(data_dir, "jasa_patients.csv"), row.names = FALSE, quote = TRUE)

coefs <- function(fit) {
  s <- summary(fit)$coefficients
  out <- list()
  for (nm in rownames(s)) {
    out[[nm]] <- list(coef = s[nm, "coef"], se = s[nm, "se(coef)"],
                      robust_se = if ("robust se" %in% colnames(s)) s[nm, "robust se"] else NULL,
                      z = s[nm, "z"], p = s[nm, ncol(s)])
  }
  out
}
# unrounded (summary.coxph rounds the Wald and score statistics to 2 decimals)
tests <- function(fit) {
  df <- sum(!is.na(coef(fit)))
  list(lr = 2 * diff(fit$loglik), wald = as.vector(fit$wald.test),
       robust_score = as.vector(fit$rscore), df = df,
       loglik = fit$loglik, n = fit$n, nevent = fit$nevent)
}

# --- time-varying Cox: response (transplant) switching on at its date
base <- j[j$futime > 0, c("id", "futime", "fustat", "txtime", "age", "surgery")]
sp <- tmerge(base, base, id = id, death = event(futime, fustat), trt = tdc(txtime))
names(sp)[names(sp) == "trt"] <- "response"
tv1 <- coxph(Surv(tstart, tstop, death) ~ response + age + surgery, data = sp, cluster = id)
tv2 <- coxph(Surv(tstart, tstop, death) ~ response, data = sp, cluster = id, ties = "breslow")

# --- landmark at day 30
L <- 30
lm <- j[j$futime > L, ]
lm$grp <- ifelse(!is.na(lm$txtime) & lm$txtime <= L, "responder", "non-responder")
lm$t <- lm$futime - L
lfit <- survfit(Surv(t, fustat) ~ grp, data = lm, conf.type = "log-log")
ldiff <- survdiff(Surv(t, fustat) ~ grp, data = lm)
curve_of <- function(fit, i) {
  f <- fit[i]
  q <- quantile(f, probs = 0.5)
  list(time = f$time, surv = f$surv, lower = f$lower, upper = f$upper, n_risk = f$n.risk,
       median = unname(q$quantile), median_lower = unname(q$lower),
       median_upper = unname(q$upper))
}
grp_names <- sub("grp=", "", names(lfit$strata))
landmark <- list(
  landmark = L, n_at_landmark = nrow(lm),
  event_before = sum(j$futime <= L & j$fustat == 1),
  censored_before = sum(j$futime <= L & j$fustat == 0),
  n = setNames(as.list(as.integer(table(lm$grp)[grp_names])), grp_names),
  observed = setNames(as.list(ldiff$obs), grp_names),
  expected = setNames(as.list(ldiff$exp), grp_names),
  chisq = ldiff$chisq, p = pchisq(ldiff$chisq, length(ldiff$n) - 1, lower.tail = FALSE),
  curves = setNames(lapply(seq_along(grp_names), function(i) curve_of(lfit, i)), grp_names)
)

# --- DoR: from the transplant, transplanted patients only
dr <- j[!is.na(j$txtime), ]
dr$t <- dr$futime - dr$txtime
dfit <- survfit(Surv(t, fustat) ~ 1, data = dr, conf.type = "log-log")
dq <- quantile(dfit, probs = 0.5)
ddiff <- survdiff(Surv(t, fustat) ~ surgery, data = dr)
dcox <- coxph(Surv(t, fustat) ~ age, data = dr)
dmax <- maxstat.test(Surv(t, fustat) ~ age, data = dr, smethod = "LogRank", pmethod = "Lau94",
                     minprop = 0.1, maxprop = 0.9)
dor <- list(
  n = nrow(dr), events = sum(dr$fustat), n_outside = nrow(j) - nrow(dr),
  time = dfit$time, surv = dfit$surv, lower = dfit$lower, upper = dfit$upper,
  median = unname(dq$quantile), median_lower = unname(dq$lower), median_upper = unname(dq$upper),
  logrank_surgery = list(chisq = ddiff$chisq, observed = ddiff$obs, expected = ddiff$exp,
                         p = pchisq(ddiff$chisq, 1, lower.tail = FALSE)),
  cox_age = c(coefs(dcox)$age, list(n = dcox$n, nevent = dcox$nevent)),
  maxstat_age = list(cutpoint = unname(dmax$estimate), statistic = unname(dmax$statistic),
                     p = dmax$p.value, maxstat = format(packageVersion("maxstat")))
)

write_json(list(
  meta = list(r = R.version.string, survival = format(packageVersion("survival")),
              data = "survival::jasa (Stanford heart transplant), transplant as the response"),
  tv_cox = list(
    response_age_surgery = list(coefficients = coefs(tv1), tests = tests(tv1),
                                n_intervals = nrow(sp), n_patients = length(unique(sp$id)),
                                n_switched = length(unique(sp$id[sp$response == 1]))),
    response_breslow = list(coefficients = coefs(tv2), tests = tests(tv2))
  ),
  landmark = landmark,
  dor = dor
), out_json, digits = NA, auto_unbox = TRUE, pretty = TRUE)
