# End-to-end reference: survival's `lung` turned into a canonical patient table (dates from a
# fixed origin), analysed in R the way the spec tests/e2e/lung/study.toml asks mmrwe to.
# Run from the repository root: Rscript tests/reference/r/e2e_lung.R
suppressMessages({library(survival); library(jsonlite)})
dir.create("tests/e2e/lung", showWarnings = FALSE, recursive = TRUE)

d <- lung
d$patient_id <- sprintf("L%03d", seq_len(nrow(d)))
origin <- as.Date("2010-01-01") + (seq_len(nrow(d)) * 7) %% 400   # staggered entry
d$start_date <- origin
d$last_followup_date <- origin + d$time
d$death_date <- ifelse(d$status == 2, format(origin + d$time), "")
d$progression_date <- ""
d$center <- paste0("inst", ifelse(is.na(d$inst), "NA", d$inst))
d$center[d$center == "instNA"] <- NA
d$sex <- ifelse(d$sex == 1, "M", "F")
out <- data.frame(patient_id = d$patient_id, center = d$center, start_date = format(d$start_date),
                  progression_date = d$progression_date, death_date = d$death_date,
                  last_followup_date = format(d$last_followup_date), age = d$age, sex = d$sex,
                  ph_ecog = d$ph.ecog, wt_loss = d$wt.loss)
write.csv(out, "tests/e2e/lung/patients.csv", row.names = FALSE, na = "")

# Times in months as mmrwe computes them: days / 30.4375.
t <- d$time / 30.4375
ev <- d$status == 2
fit <- survfit(Surv(t, ev) ~ 1, conf.type = "log-log")
q <- quantile(fit, 0.5)
s12 <- summary(fit, times = 12)
rfit <- survfit(Surv(t, !ev) ~ 1, conf.type = "log-log")
rq <- quantile(rfit, 0.5)
lr <- survdiff(Surv(t, ev) ~ d$sex)
cx <- coxph(Surv(t, ev) ~ age + sex, data = data.frame(t, ev, age = d$age, sex = factor(d$sex, levels = c("F", "M"))), ties = "efron")
zph <- cox.zph(cx, transform = "km")
sc <- summary(cx)
bt <- binom.test(sum(d$ph.ecog >= 2, na.rm = TRUE), nrow(d))

res <- list(
  meta = list(r = R.version.string, survival = format(packageVersion("survival"))),
  n = nrow(d), events = sum(ev),
  median = unname(q$quantile), median_lower = unname(q$lower), median_upper = unname(q$upper),
  surv12 = s12$surv, surv12_lower = s12$lower, surv12_upper = s12$upper, surv12_se = s12$std.err, n_risk12 = s12$n.risk,
  followup = unname(rq$quantile), followup_lower = unname(rq$lower), followup_upper = unname(rq$upper),
  logrank_chisq = lr$chisq, logrank_obs = as.list(setNames(lr$obs, c("F", "M"))), logrank_exp = as.list(setNames(lr$exp, c("F", "M"))),
  cox_coef = as.list(setNames(unname(coef(cx)), c("age", "sex=M"))),
  cox_se = as.list(setNames(unname(sqrt(diag(vcov(cx)))), c("age", "sex=M"))),
  cox_lr = 2 * diff(cx$loglik), cox_wald = unname(cx$wald.test), cox_score = unname(cx$score),  # summary() rounds these
  concordance = unname(sc$concordance[1]),
  zph_global = unname(zph$table["GLOBAL", "chisq"]), zph_age = unname(zph$table["age", "chisq"]),
  ecog2_lower = bt$conf.int[1], ecog2_upper = bt$conf.int[2], ecog2_n = nrow(d), ecog2_x = unname(bt$statistic)
)
write_json(res, "tests/reference/expected/e2e_lung.json", digits = NA, auto_unbox = TRUE, pretty = TRUE)
