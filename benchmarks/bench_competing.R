# One R cell of the competing-risks / RMST benchmark (driven by benchmarks/bench_competing.py).
#
# usage: Rscript benchmarks/bench_competing.R {cuminc,rmst,crr} N DATA_DIR [REPEATS] [LONG_RUN_S]
#
# Reads DATA_DIR/competing_N.csv (the same values as the parquet file the Python cells read),
# times only the computation (median of REPEATS wall times; a single run when the first one
# exceeds LONG_RUN_S) and prints one JSON line on stdout. Peak memory is the kernel's RSS
# high-water mark (VmHWM) of the process; "compute_peak_mb" is the mark after a reset
# through /proc/self/clear_refs once the data are loaded (data still resident).
suppressPackageStartupMessages({
  library(survival)
  library(cmprsk)
  library(jsonlite)
})
invisible(Sys.setlocale("LC_COLLATE", "C"))
args <- commandArgs(TRUE)
step <- args[1]
n <- as.integer(as.numeric(args[2]))
data_dir <- args[3]
repeats <- if (length(args) >= 4) as.integer(args[4]) else 3L
long_run_s <- if (length(args) >= 5) as.numeric(args[5]) else 20
TIMES <- c(365.25, 730.5) # 12 and 24 months, in days
TAU <- 730.5 # RMST truncation: 24 months

status_mb <- function(key) {
  line <- grep(paste0("^", key, ":"), readLines("/proc/self/status"), value = TRUE)
  as.numeric(gsub("[^0-9]", "", line)) / 1024
}

t_load <- Sys.time()
d <- read.csv(sprintf("%s/competing_%d.csv", data_dir, n),
              colClasses = c("numeric", "integer", "integer", "numeric", "integer", "numeric"))
load_s <- as.numeric(difftime(Sys.time(), t_load, units = "secs"))
data_check <- c(nrow(d), sum(d$cause == 1), sum(d$cause == 2), sum(d$time), sum(d$group),
                sum(d$x1), sum(d$x3))
load_peak_mb <- status_mb("VmHWM")
reset_ok <- tryCatch({ writeLines("5", "/proc/self/clear_refs"); TRUE }, error = function(e) FALSE)

fns <- list(
  # Aalen-Johansen CIF of both causes by group, Gray's test per cause, CIF at 12 and 24 months
  cuminc = function() {
    fit <- cuminc(d$time, d$cause, d$group)
    tp <- timepoints(fit, TIMES)
    list(est = tp$est, var = tp$var, rows = rownames(tp$est),
         gray_stat = unname(fit$Tests[, "stat"]), gray_p = unname(fit$Tests[, "pv"]),
         gray_rows = rownames(fit$Tests))
  },
  # RMST of event-free survival (progression or death) to 24 months by group
  rmst = function() {
    fit <- survfit(Surv(time, cause != 0) ~ group, data = d)
    tab <- summary(fit, rmean = TAU)$table
    list(rmst = unname(tab[, "rmean"]), se = unname(tab[, "se(rmean)"]), rows = rownames(tab))
  },
  # Fine-Gray subdistribution hazards for progression, 3 covariates
  crr = function() {
    fit <- crr(d$time, d$cause, cbind(x1 = d$x1, x2 = d$x2, x3 = d$x3))
    list(coef = unname(fit$coef), se = unname(sqrt(diag(fit$var))), loglik = fit$loglik,
         converged = fit$converged, iterations = length(fit$loglik))
  })

fn <- fns[[step]]
times <- c()
for (i in seq_len(repeats)) {
  t0 <- Sys.time()
  out <- fn()
  times <- c(times, as.numeric(difftime(Sys.time(), t0, units = "secs")))
  if (times[1] > long_run_s) break
}
compute_peak_mb <- status_mb("VmHWM")
rec <- list(
  step = step, tool = "R", n = n, status = "ok",
  median_s = median(times), times = times, single_run = length(times) < repeats,
  result = out, data_check = data_check, load_s = load_s,
  peak_rss_mb = max(load_peak_mb, compute_peak_mb),
  compute_peak_mb = if (reset_ok) compute_peak_mb else NULL
)
cat(toJSON(rec, auto_unbox = TRUE, digits = NA, null = "null", na = "null"), "\n")
