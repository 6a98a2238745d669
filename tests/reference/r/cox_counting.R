# Reference fixtures for mmrwe.stats.cox.cox_fit on counting-process data
# (coxph(Surv(start, stop, event) ~ ...), agreg.fit / agfit4.c) and cox.zph of such fits
# (zph2.c), survival 3.5. Run from the repository root:
#   Rscript tests/reference/r/cox_counting.R
# Writes tests/reference/data/coxc_<case>.csv and tests/reference/expected/cox_counting.json.
source("tests/reference/r/cox_common.R")

cases <- list()

# --- heart (Stanford heart transplant, jasa1): transplant is a time-varying covariate -------------
hr <- survival::heart
names(hr)[names(hr) == "stop"] <- "time"
names(hr)[names(hr) == "event"] <- "status"
hr$w <- 0.5 + (hr$id %% 5) / 4  # case weights, constant within a patient
rhs_h <- "age + year + surgery + transplant"
cases$heart_efron <- run_cox_case("coxc_heart_efron", rhs_h, hr, start_var = "start")
cases$heart_breslow_cluster <- run_cox_case("coxc_heart_breslow_cluster", rhs_h, hr,
                                            ties = "breslow", start_var = "start",
                                            cluster_var = "id")
cases$heart_strata_cluster <- run_cox_case("coxc_heart_strata_cluster",
                                           "age + year + transplant", hr, start_var = "start",
                                           strata_var = "surgery", cluster_var = "id")
cases$heart_weights_cluster <- run_cox_case("coxc_heart_weights_cluster", rhs_h, hr,
                                            start_var = "start", cluster_var = "id",
                                            weights_var = "w")
cases$heart_weights_model <- run_cox_case("coxc_heart_weights_model", rhs_h, hr,
                                          ties = "breslow", start_var = "start",
                                          weights_var = "w", robust = FALSE)

# --- veteran split at 30, 90, 180 days: a covariate whose effect changes after 90 days -------------
vs <- survSplit(Surv(time, status) ~ ., data = veteran, cut = c(30, 90, 180),
                episode = "tgroup", id = "id")
vs$celltype <- relevel(vs$celltype, ref = "large")
vs$karno_late <- vs$karno * (vs$tstart >= 90)
cases$veteran_split_tv <- run_cox_case("coxc_veteran_split_tv",
                                       "trt + celltype + karno + karno_late", vs,
                                       start_var = "tstart", cluster_var = "id",
                                       note = "time-varying karno effect; cluster = patient")
cases$veteran_split_breslow <- run_cox_case("coxc_veteran_split_breslow",
                                            "trt + celltype + karno + karno_late", vs,
                                            ties = "breslow", start_var = "tstart")

# --- lung split at 150 and 350 days: the same model as the unsplit data ---------------------------
lung2 <- na.omit(lung[, c("inst", "time", "status", "age", "sex", "ph.ecog")])
lung2$status <- lung2$status - 1L
rownames(lung2) <- NULL
lung2$id <- seq_len(nrow(lung2))
ls <- survSplit(Surv(time, status) ~ ., data = lung2, cut = c(150, 350), episode = "ep")
cases$lung_split <- run_cox_case("coxc_lung_split", "age + sex + ph.ecog", ls,
                                 start_var = "tstart",
                                 note = "equals coxph(Surv(time, status) ~ age + sex + ph.ecog)")

# --- lung with delayed entry (left truncation) ----------------------------------------------------
le <- lung2
le$entry <- floor(le$time * ((le$id * 37) %% 10) / 20)  # 0 to 45% of the follow-up
le$w <- 0.5 + ((le$id * 13) %% 7) / 4
cases$lung_entry_efron <- run_cox_case("coxc_lung_entry_efron", "age + sex + ph.ecog", le,
                                       start_var = "entry")
cases$lung_entry_strata_breslow <- run_cox_case("coxc_lung_entry_strata_breslow",
                                                "age + ph.ecog", le, ties = "breslow",
                                                start_var = "entry", strata_var = "sex")
cases$lung_entry_weights <- run_cox_case("coxc_lung_entry_weights", "age + sex + ph.ecog", le,
                                         start_var = "entry", weights_var = "w",
                                         note = "weights not whole numbers: robust by default")

# heavily tied months, entries falling on event times (a row entering at t is not at risk at t)
lt <- le
lt$time <- ceiling(lt$time / 30)
lt$entry <- floor(lt$time * ((lt$id * 37) %% 10) / 20)
cases$lung_entry_tied_efron <- run_cox_case("coxc_lung_entry_tied_efron", "age + sex + ph.ecog",
                                            lt, start_var = "entry")
cases$lung_entry_tied_cluster_inst <- run_cox_case("coxc_lung_entry_tied_cluster_inst",
                                                   "age + sex + ph.ecog", lt,
                                                   start_var = "entry", cluster_var = "inst",
                                                   weights_var = "w")

write_json(list(meta = meta_info("tests/reference/r/cox_counting.R"), cases = cases),
           "tests/reference/expected/cox_counting.json", digits = NA, auto_unbox = TRUE,
           null = "null", na = "null", pretty = TRUE)
cat("wrote tests/reference/expected/cox_counting.json with", length(cases), "cases\n")
