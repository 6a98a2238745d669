"""The documentation is complete inside the repository and agrees with the code."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest

import mmrwe.derive.labs as labs
import mmrwe.derive.therapy as therapy
import mmrwe.io.redcap as redcap
import mmrwe.spec.errors as spec_errors
import mmrwe.validate.patients as patients
from mmrwe.spec.schema import markdown_reference

ROOT = Path(__file__).parents[2]
DOCS = sorted((ROOT / "docs").glob("*.md"))

# Written in pieces so that this file does not match itself.
FORBIDDEN = (
    "contract" + ".md",
    "domain" + ".md",
    ".." + "/shared",
    "shared" + "/docs",
    "shared" + "/bench-peers",
)


def _text_files() -> list[Path]:
    files = [ROOT / "README.md", *DOCS]
    for folder in ("src", "tests", "docs", "benchmarks", "scripts", ".ci"):
        for p in (ROOT / folder).rglob("*"):
            if p.is_file() and p.suffix in {
                ".py",
                ".md",
                ".toml",
                ".json",
                ".R",
                ".txt",
                ".j2",
                ".html",
                ".csv",
                ".sh",
                "",  # scripts without a suffix (.ci/run)
            }:
                files.append(p)
    return sorted(set(files))


def test_no_file_cites_documents_outside_the_repository():
    offenders = []
    for p in _text_files():
        text = p.read_text(encoding="utf-8", errors="replace")
        for pattern in FORBIDDEN:
            if pattern in text:
                offenders.append(f"{p.relative_to(ROOT)}: {pattern}")
    assert offenders == []


def test_readme_links_every_doc():
    readme = (ROOT / "README.md").read_text()
    missing = [p.name for p in DOCS if f"](docs/{p.name})" not in readme]
    assert missing == []


def _slug(heading: str) -> str:
    s = unicodedata.normalize("NFKD", heading.strip().lower())
    s = re.sub(r"[^\w\- ]", "", s)
    return s.replace(" ", "-")


@pytest.mark.parametrize("doc", [*DOCS, ROOT / "README.md"], ids=lambda p: p.name)
def test_relative_links_and_anchors_resolve(doc):
    text = doc.read_text()
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"^[a-z]+://", target):
            continue
        path, _, anchor = target.partition("#")
        dest = (doc.parent / path).resolve() if path else doc
        assert dest.exists(), f"{doc.name}: broken link {target}"
        if anchor and dest.suffix == ".md":
            headings = re.findall(r"^#+ (.+)$", dest.read_text(), flags=re.M)
            assert anchor in {_slug(h) for h in headings}, f"{doc.name}: no heading for #{anchor}"


def test_the_key_reference_in_spec_md_is_the_generated_one():
    spec_md = (ROOT / "docs" / "spec.md").read_text()
    assert markdown_reference() in spec_md, (
        "run: mmrwe schema --markdown, and paste it into docs/spec.md"
    )


def _codes(doc: str | None, prefix: str) -> set[str]:
    return set(re.findall(rf"\b{prefix}\d{{3}}\b", doc or ""))


def test_every_issue_code_is_documented():
    spec_md = (ROOT / "docs" / "spec.md").read_text()
    validation_md = (ROOT / "docs" / "validation.md").read_text()
    assert _codes(spec_errors.__doc__, "MMS") <= _codes(spec_md, "MMS")
    assert len(_codes(spec_errors.__doc__, "MMS")) == 10
    assert _codes(patients.__doc__, "MMV") <= _codes(validation_md, "MMV")
    lab_codes = _codes(labs.__doc__, "MML") | _codes(therapy.__doc__, "MML")
    assert lab_codes and lab_codes <= _codes(validation_md, "MML")
    redcap_codes = {r.code for r in redcap.RULES}
    assert redcap_codes == _codes(redcap.__doc__, "MMR") and redcap_codes <= _codes(
        validation_md, "MMR"
    )


def test_data_md_lists_every_lab_test_and_the_therapy_columns():
    data_md = (ROOT / "docs" / "data.md").read_text()
    for name in labs.TEST_NAMES:
        assert f"`{name}`" in data_md, name
    for column in (*therapy.THERAPY_REQUIRED, *therapy.REASONS, "line", "planned_phase"):
        assert f"`{column}`" in data_md, column
    for column in patients.REQUIRED:
        assert f"`{column}`" in data_md, column
