"""Generated Methods and Results: every number read back from the rendered Word text and matched
to results.json; references match captions; each method described once with its R function;
proper method names; no formula notation; one disclaimer; nulls in words; spec order."""

from __future__ import annotations

import io
import re
from collections import Counter

import docx
import pytest
from report_helpers import load_results
from results_factory import minimal_results

from mmrwe.report import render_docx
from mmrwe.report.document import SYNTHETIC_NOTICE, build_document
from mmrwe.tables.format import render_value
from mmrwe.tables.model import Ref, XRef, resolve, text_of

NUM = re.compile(r"\d+(?:\.\d+)?")
# Digits the prose may print that are not results: the model's position in the spec ("Model 2",
# as the Cox table labels it), the display rule for small p values, the name of the SHA-256
# hash, and "95% CI" where results.json stores no confidence level (odds ratios of a factor
# with a stored level print it from there).
LITERAL_OK = re.compile(r"Model \d+|below 0\.001 print as <0\.001|SHA-256|95% CI |95% interval")


@pytest.fixture(scope="module")
def demo(demo_run):
    r = load_results(demo_run)
    return {
        "results": r,
        "doc": build_document(r),
        "word": docx.Document(str(demo_run / "report.docx")),
    }


def _word_paragraphs(word):
    return [p.text for p in word.paragraphs]


def _expected_numbers(parts) -> Counter:
    """Numbers the paragraph may print: those rendered from results.json (Refs), the table and
    figure numbers of its cross-references, and the allowed literals."""
    out: Counter = Counter()
    for p in parts:
        if isinstance(p, (Ref, XRef)):
            out.update(NUM.findall(p.text))
        else:
            for m in LITERAL_OK.finditer(p):
                out.update(NUM.findall(m.group(0)))
    return out


def _check_refs(parts, results):
    for p in parts:
        if isinstance(p, Ref):
            value = resolve(results, p.path)
            if p.fmt == "key":
                assert p.text == str(p.path[-1])
            else:
                assert render_value(value, p.fmt, 0) == p.text, p


def test_every_number_in_the_word_text_is_read_from_results_json(demo):
    results, doc = demo["results"], demo["doc"]
    word_text = _word_paragraphs(demo["word"])
    n_numbers = 0
    for para in doc.paragraphs:
        _check_refs(para.parts, results)
        text = (f"{para.title}. " if para.title else "") + text_of(para.parts)
        assert text in word_text, text[:80]  # the Word report prints exactly this paragraph
        printed = Counter(NUM.findall(text_of(para.parts)))
        assert printed == _expected_numbers(para.parts), (
            para.title,
            printed - _expected_numbers(para.parts),
        )
        for p in para.parts:  # literal text carries no number of its own
            if isinstance(p, str):
                assert not NUM.search(LITERAL_OK.sub("", p)), (para.title, p)
        n_numbers += sum(printed.values())
    assert n_numbers > 150


def test_references_read_like_the_captions_they_point_to(demo):
    doc, word = demo["doc"], demo["word"]
    labels = {t.id: f"Table {t.number}" for t in doc.tables}
    labels |= {b.id: b.label for b in doc.figure_blocks}
    captions = [p.text for p in word.paragraphs if p.style.name == "Caption"]
    xml = word.element.xml
    seen = 0
    for para in doc.paragraphs:
        for p in para.parts:
            if isinstance(p, XRef):
                seen += 1
                assert p.text == labels[p.target], p
                assert any(c.startswith(p.text + ". ") for c in captions), p
                # a REF field to the caption's bookmark (Word's cross-reference)
                assert f"REF _Ref_{p.target.replace('-', '_')}" in xml, p
    assert seen >= 10
    assert len(captions) == len(doc.tables) + len(doc.figure_blocks)


def test_prose_has_no_formula_notation_and_proper_method_names(demo):
    text = "\n".join(text_of(p.parts) for p in demo["doc"].paragraphs)
    text += "\n".join(text_of(b.caption) for b in demo["doc"].figure_blocks)
    assert "~" not in text and "Surv(" not in text and 'strata = "' not in text
    lower = re.findall(
        # R function names (survival::cox.zph, fisher.test) are written as R writes them
        r"(?<![\w:.])(kaplan-meier|clopper-pearson|efron|breslow|fisher|cox|grambsch|harrell|km)\b(?!\.)",
        text,
    )
    assert lower == []
    for name in ("Kaplan-Meier", "Clopper-Pearson", "Efron", "Fisher's exact test", "Cox"):
        assert name in text


METHODS = [
    (r"(?<!reverse )Kaplan-Meier method", "survival::survfit"),
    (r"reverse Kaplan-Meier method", None),
    (r"two-sided log-rank test", "survival::survdiff"),
    (r"Cox proportional-hazards models", "survival::coxph"),
    (r"Grambsch-Therneau score test", "survival::cox.zph"),
    (r"Clopper-Pearson exact", "binom.test"),
    (r"Fisher's exact test", "fisher.test"),
    (r"Pearson's chi-square test", "chisq.test"),
    (r"Wilcoxon rank-sum test", "wilcox.test"),
    (r"logistic regression", "glm"),
    (r"maximally selected log-rank statistics", "maxstat::maxstat.test"),
    (r"Youden index", "cutpointr"),
]


def test_each_method_is_described_once_with_its_r_function(demo):
    methods = {p.title: text_of(p.parts) for p in demo["doc"].paragraphs if p.title}
    stats = methods["Statistical analysis"]
    sentences = re.split(r"(?<=\.) (?=[A-Z])", stats)
    for phrase, r_function in METHODS:
        hits = [s for s in sentences if re.search(phrase, s)]
        assert len(re.findall(phrase, stats)) == 1 and len(hits) == 1, (phrase, hits)
        if r_function:
            assert r_function in hits[0], (phrase, hits[0])
    # methods belong to Methods: the results paragraphs do not describe them again
    results_text = " ".join(text_of(p.parts) for p in demo["doc"].paragraphs if not p.title)
    assert "R survival::" not in results_text


def test_one_disclaimer(demo_run, demo):
    body = "\n".join(_word_paragraphs(demo["word"]))
    assert body.count(SYNTHETIC_NOTICE) == 1
    assert "The data are synthetic" not in body
    assert "Synthetic data: not patient data" not in body
    html = (demo_run / "report.html").read_text(encoding="utf-8")
    assert html.count(SYNTHETIC_NOTICE) == 1 and "Synthetic data: not patient data" not in html


def test_nulls_read_not_estimable_and_cox_terms_follow_the_spec():
    r = minimal_results()
    doc = build_document(r)
    paras = {p.title: text_of(p.parts) for p in doc.paragraphs if p.title}
    results = " ".join(text_of(p.parts) for p in doc.paragraphs if not p.title)
    assert "\u2014" not in results  # no dash for a missing number in prose
    # followup upper null: "14.0 (95% CI 11.0 to not reached)"; 24-month surv null
    assert "14.0 (95% CI 11.0 to not reached) months" in results
    assert "at 24 months not estimable" in results
    # model 2: terms ["age", "ISS"]; results.json sorts the keys ("ISS=II" before "age")
    m2 = results[results.index("Model 2 (") :]
    assert m2.index("Age (per year)") < m2.index("ISS (vs I)")
    assert "II HR 1.25 (95% CI not estimable\u20133.50)" not in m2
    assert "II HR 1.25 (95% CI not estimable to 3.50), p not estimable" in m2
    # a factor of three levels: HR per level, one overall p (term_tests, Wald 0.0334)
    assert "Risk group (vs a): b HR 1.50 (95% CI 0.80\u20132.81), c HR 3.25" in results
    assert "; overall p = 0.033" in results
    assert (
        "A factor with three or more levels has one overall p (Wald"
        in paras["Statistical analysis"]
    )
    # the trend test is described in Methods only when one was reported
    assert "trend" not in paras["Statistical analysis"]
    r["logrank"][0]["trend"] = {"chisq": 7.7, "df": 1, "p": 0.0055}
    doc = build_document(r)
    paras = {p.title: text_of(p.parts) for p in doc.paragraphs if p.title}
    results = " ".join(text_of(p.parts) for p in doc.paragraphs if not p.title)
    assert "log-rank test for trend" in paras["Statistical analysis"]
    assert "test for trend p = 0.006" in results
    word = docx.Document(io.BytesIO(render_docx(r)))
    assert any("test for trend p = 0.006" in p.text for p in word.paragraphs)
