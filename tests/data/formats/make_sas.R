# Writes tests/data/formats/patients.sas7bdat from patients.csv (haven::write_sas), so the SAS
# reader is tested on a real SAS7BDAT file. Run from the repository root:
#   Rscript tests/data/formats/make_sas.R
suppressMessages(library(haven))
d <- read.csv("tests/data/formats/patients.csv", stringsAsFactors = FALSE, na.strings = "")
for (c in c("start_date", "progression_date", "death_date", "last_followup_date")) d[[c]] <- as.Date(d[[c]])
write_sas(d, "tests/data/formats/patients.sas7bdat")
