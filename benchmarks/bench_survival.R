# One R cell of the survival benchmark suite (driven by benchmarks/bench_survival.py).
#
# usage: Rscript benchmarks/bench_survival.R {km,logrank,cox} N DATA_DIR [REPEATS] [LONG_RUN_S]
#        [EXTRA_REPEATS] [EXTRA_BUDGET_S] [FAST_S]
#
# Reads DATA_DIR/survival_N.csv (written by benchmarks/gen_data.py, the same values as the
# parquet file the Python cells read), times only the computation (median of REPEATS wall
# times; a single run when the first one exceeds LONG_RUN_S) and prints one JSON line on
# stdout. A cell whose median is under FAST_S keeps repeating (up to EXTRA_REPEATS calls or
# EXTRA_BUDGET_S more seconds) for the supplementary "median_more_s". Peak memory is the kernel's RSS high-water mark (VmHWM), reset after loading so
# that "compute_peak_mb" covers the computation alone (data still resident).
suppressPackageStartupMessages({
  library(survival)
  library(jsonlite)
})
args <- commandArgs(TRUE)
workload <- args[1]
n <- as.integer(as.numeric(args[2]))
data_dir <- args[3]
repeats <- if (length(args) >= 4) as.integer(args[4]) else 3L
long_run_s <- if (length(args) >= 5) as.numeric(args[5]) else 20
extra_repeats <- if (length(args) >= 6) as.integer(args[6]) else 21L
extra_budget_s <- if (length(args) >= 7) as.numeric(args[7]) else 3
fast_s <- if (length(args) >= 8) as.numeric(args[8]) else 0.5

status_mb <- function(key) {
  line <- grep(paste0("^", key, ":"), readLines("/proc/self/status"), value = TRUE)
  as.numeric(gsub("[^0-9]", "", line)) / 1024
}

d <- read.csv(sprintf("%s/survival_%d.csv", data_dir, n),
              colClasses = c("numeric", "integer", "numeric", "integer", "numeric"))
# exact sums (R accumulates in long double) so the driver can check both sides read the
# same values
data_check <- c(nrow(d), sum(d$event), sum(round(d$time * 100)), sum(d$x1), sum(d$x3))
load_peak_mb <- status_mb("VmHWM")
rss_loaded_mb <- status_mb("VmRSS")
# writing 5 to clear_refs resets VmHWM, so the next reading is the peak of the computation
reset_ok <- tryCatch({ writeLines("5", "/proc/self/clear_refs"); TRUE }, error = function(e) FALSE)

fns <- list(
  km = function() {
    fit <- survfit(Surv(time, event) ~ 1, data = d, conf.type = "log-log")
    list(result = unname(summary(fit)$table[c("median", "0.95LCL", "0.95UCL")]))
  },
  logrank = function() {
    s <- survdiff(Surv(time, event) ~ x2, data = d)
    list(result = c(s$chisq, pchisq(s$chisq, 1, lower.tail = FALSE)))
  },
  cox = function() {
    fit <- coxph(Surv(time, event) ~ x1 + x2 + x3, data = d, ties = "efron")
    list(result = unname(coef(fit)), se = unname(sqrt(diag(fit$var))),
         loglik = fit$loglik, iterations = fit$iter,
         concordance = unname(fit$concordance[["concordance"]]))
  })

fn <- fns[[workload]]
times <- c()
for (i in seq_len(repeats)) {
  # Sys.time() has microsecond resolution (proc.time() only milliseconds)
  t0 <- Sys.time()
  out <- fn()
  times <- c(times, as.numeric(difftime(Sys.time(), t0, units = "secs")))
  if (times[1] > long_run_s) break
}
more <- times
if (length(times) == repeats && median(times) < fast_s) {
  stop_at <- Sys.time() + extra_budget_s
  while (length(more) < extra_repeats && Sys.time() < stop_at) {
    t0 <- Sys.time()
    fn()
    more <- c(more, as.numeric(difftime(Sys.time(), t0, units = "secs")))
  }
}
compute_peak_mb <- status_mb("VmHWM")

rec <- list(
  workload = workload, tool = "R", n = n, status = "ok",
  median_s = median(times), times = times, single_run = length(times) < repeats,
  median_more_s = median(more), times_more = more,
  result = out$result,
  extra = out[setdiff(names(out), "result")],
  data_check = data_check,
  peak_rss_mb = max(load_peak_mb, compute_peak_mb),
  compute_peak_mb = if (reset_ok) compute_peak_mb else NULL,
  rss_loaded_mb = rss_loaded_mb,
  hwm_reset = reset_ok,
  blas = unname(extSoftVersion()["BLAS"]),
  version = list(R = R.version.string, survival = format(packageVersion("survival")))
)
cat(toJSON(rec, auto_unbox = TRUE, digits = NA, null = "null", na = "null"), "\n")
