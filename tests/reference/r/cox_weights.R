# Reference fixtures for mmrwe.stats.cox.cox_fit with case weights (coxph(weights = w)) and
# cox.zph of weighted fits, survival 3.5. Run from the repository root:
#   Rscript tests/reference/r/cox_weights.R
# Writes tests/reference/data/coxw_<case>.csv and tests/reference/expected/cox_weights.json.
# Weights: inverse-probability-of-treatment weights (ATE) from a logistic propensity model,
# as the IPTW analyses use them (not whole numbers: coxph defaults to robust = TRUE), and
# whole-number frequency weights (coxph defaults to robust = FALSE).
source("tests/reference/r/cox_common.R")

iptw <- function(treated, formula, data) {
  ps <- fitted(glm(formula, family = binomial, data = data))
  ifelse(treated, 1 / ps, 1 / (1 - ps))
}

cases <- list()

# --- lung: treatment = female sex, propensity on age and ECOG ---------------------------------
lung2 <- na.omit(lung[, c("inst", "time", "status", "age", "sex", "ph.ecog")])
lung2$status <- lung2$status - 1L
rownames(lung2) <- NULL
lung2$female <- as.integer(lung2$sex == 2)
lung2$w <- iptw(lung2$female == 1, female ~ age + ph.ecog, lung2)
lung2$fw <- 1 + (seq_len(nrow(lung2)) %% 3)  # frequency weights 1, 2, 3
cases$lung_iptw_efron <- run_cox_case("coxw_lung_iptw_efron", "female + age + ph.ecog", lung2,
                                      weights_var = "w",
                                      note = "IPTW: robust = TRUE by R's default")
cases$lung_iptw_breslow_model <- run_cox_case("coxw_lung_iptw_breslow_model",
                                              "female + age + ph.ecog", lung2,
                                              ties = "breslow", weights_var = "w",
                                              robust = FALSE, note = "model-based variance")
cases$lung_iptw_cluster_inst <- run_cox_case("coxw_lung_iptw_cluster_inst",
                                             "female + age + ph.ecog", lung2,
                                             weights_var = "w", cluster_var = "inst")
cases$lung_freq_weights <- run_cox_case("coxw_lung_freq_weights", "age + sex + ph.ecog", lung2,
                                        weights_var = "fw",
                                        note = "whole-number weights: robust = FALSE by default")
cases$lung_freq_weights_robust <- run_cox_case("coxw_lung_freq_weights_robust",
                                               "age + sex + ph.ecog", lung2, ties = "breslow",
                                               weights_var = "fw", robust = TRUE)
cases$lung_freq_weights_robust_init <- run_cox_case(
  "coxw_lung_freq_weights_robust_init", "age + sex + ph.ecog", lung2, weights_var = "fw",
  robust = TRUE, init = c(0.01, -0.3, 0.3),
  note = "init: the robust score test starts from X %*% init; Wald tests coef - init")
cases$lung_iptw_strata_inst <- run_cox_case("coxw_lung_iptw_strata_inst", "female + age",
                                            lung2, weights_var = "w", strata_var = "inst",
                                            note = "18 strata, weights, robust by default")

# heavily tied times (months): Efron's tied deaths weighted by their mean weight
lung_tied <- lung2
lung_tied$time <- round(lung_tied$time / 30)
cases$lung_tied_iptw_efron <- run_cox_case("coxw_lung_tied_iptw_efron", "female + age + ph.ecog",
                                           lung_tied, weights_var = "w")
cases$lung_tied_iptw_breslow <- run_cox_case("coxw_lung_tied_iptw_breslow",
                                             "female + age + ph.ecog", lung_tied,
                                             ties = "breslow", weights_var = "w")
cases$lung_tied_freq_efron <- run_cox_case("coxw_lung_tied_freq_efron", "age + sex + ph.ecog",
                                           lung_tied, weights_var = "fw")

# --- veteran: 4-level factor, ties, strata, weights not whole numbers --------------------------
vet <- veteran
vet$celltype <- relevel(vet$celltype, ref = "large")
vet$w <- 0.5 + vet$karno / 100
cases$veteran_celltype_w_strata <- run_cox_case("coxw_veteran_celltype_w_strata",
                                                "celltype + trt + karno", vet, ties = "breslow",
                                                weights_var = "w", strata_var = "prior")
cases$veteran_celltype_w <- run_cox_case("coxw_veteran_celltype_w", "celltype + trt + karno", vet,
                                         weights_var = "w")

# --- colon (death records): IPTW for any chemotherapy, 3-level rx in the model --------------------
col <- subset(colon, etype == 2)
col <- na.omit(col[, c("time", "status", "rx", "sex", "age", "nodes")])
rownames(col) <- NULL
col$w <- iptw(col$rx != "Obs", I(rx != "Obs") ~ sex + age + nodes, col)
cases$colon_iptw <- run_cox_case("coxw_colon_iptw", "rx + sex + age + nodes", col,
                                 weights_var = "w")

# --- pbc: weights and strata(trt) ------------------------------------------------------------------
pb <- pbc[1:312, c("time", "status", "trt", "age", "edema", "bili", "albumin")]
pb$status <- as.integer(pb$status == 2)
pb <- na.omit(pb)
rownames(pb) <- NULL
pb$log_bili <- log(pb$bili)
pb$w <- iptw(pb$edema > 0, I(edema > 0) ~ age + log_bili, pb)
cases$pbc_w_strata_trt <- run_cox_case("coxw_pbc_w_strata_trt", "age + edema + log_bili", pb,
                                       weights_var = "w", strata_var = "trt")

write_json(list(meta = meta_info("tests/reference/r/cox_weights.R"), cases = cases),
           "tests/reference/expected/cox_weights.json", digits = NA, auto_unbox = TRUE,
           null = "null", na = "null", pretty = TRUE)
cat("wrote tests/reference/expected/cox_weights.json with", length(cases), "cases\n")
