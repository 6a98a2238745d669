"""Reliability of pooling: no network, no code from user input, atomic outputs, every row."""

from __future__ import annotations

import ast
import json
import socket
from pathlib import Path

import pytest
from _sites import copy_sites, diff_paths, make_sites
from typer.testing import CliRunner

import mmrwe.study.pipeline as pipeline
from mmrwe.cli.main import app
from mmrwe.spec import load_spec
from mmrwe.study.pipeline import run as run_study
from mmrwe.study.pooling import pool
from mmrwe.study.pseudonymize import pseudonymize_command

SRC = Path(__file__).resolve().parents[2] / "src" / "mmrwe"
# Modules that read user files (site exports, specs, keys) or pool them.
INGEST = [
    SRC / "io" / "readers.py",
    SRC / "io" / "pool.py",
    SRC / "io" / "pseudonymize.py",
    SRC / "spec" / "loader.py",
    SRC / "validate" / "patients.py",
    SRC / "io" / "raw.py",
    SRC / "study" / "pooling.py",
    SRC / "study" / "pseudonymize.py",
]
FORBIDDEN_MODULES = {
    "pickle",
    "marshal",
    "shelve",
    "dill",
    "socket",
    "urllib",
    "http",
    "requests",
    "ftplib",
}
FORBIDDEN_BUILTINS = {"eval", "exec", "compile", "__import__"}  # re.compile is fine
FORBIDDEN_METHODS = {"read_pickle", "loads_pickle"}


@pytest.fixture(scope="module")
def sites(tmp_path_factory) -> dict[str, Path]:
    return make_sites(tmp_path_factory.mktemp("rel_sites"))


@pytest.mark.parametrize("path", INGEST, ids=lambda p: p.name)
def test_no_pickle_eval_or_network_in_ingest_code(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name.split(".")[0] for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [(node.module or "").split(".")[0]]
        else:
            names = []
        assert not set(names) & FORBIDDEN_MODULES, (path.name, names)
        if isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Name):
                assert f.id not in FORBIDDEN_BUILTINS, (path.name, f.id, node.lineno)
            if isinstance(f, ast.Attribute):
                assert f.attr not in FORBIDDEN_METHODS, (path.name, f.attr, node.lineno)


def test_pool_and_pseudonymize_make_no_network_connection(sites, tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    from mmrwe.io.pseudonymize import create_key

    key = tmp_path / "keys" / "k"  # random, private, outside the outgoing folder
    key.parent.mkdir()
    create_key(key)
    pseudonymize_command(
        sites["north"], key, tmp_path / "outgoing" / "north.csv", spec_path=sites["spec"],
        shift_dates=True,
    )  # fmt: skip
    pool(load_spec(sites["spec"]), [], tmp_path / "o", report=True)
    assert (tmp_path / "o" / "report.html").is_file()


def test_failed_analysis_leaves_no_partial_outputs(sites, tmp_path, monkeypatch):
    out = tmp_path / "o"
    pool(load_spec(sites["spec"]), [], out, report=False)
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}

    def crash(*args, **kwargs):
        raise KeyboardInterrupt  # a crash in the middle of the run

    monkeypatch.setattr(pipeline, "run", crash)
    with pytest.raises(KeyboardInterrupt):
        pool(load_spec(sites["spec"]), [], out, report=False)
    # Nothing is written before everything is computed: DIR is exactly as it was.
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_out_dir_holding_a_site_file_is_refused(sites, tmp_path):
    from mmrwe.core.errors import InputError

    folder = copy_sites(sites["spec"].parent, tmp_path / "s")
    with pytest.raises(InputError, match="holds the input"):
        pool(load_spec(folder / "study.toml"), [], folder)


def test_files_without_sites_entries_need_their_own_center_column(sites, tmp_path):
    # A spec without [[sites]]: each file is read with [data]'s options; the demo's clean
    # file has a center column, so it pools alone to the clean results.
    folder = tmp_path / "plain"
    folder.mkdir()
    text = sites["spec"].read_text(encoding="utf-8").split("# --- pooling")[0]
    (folder / "study.toml").write_text(text, encoding="utf-8")
    (folder / "patients.csv").write_bytes(sites["clean"].read_bytes())
    spec = load_spec(folder / "study.toml")
    run = pool(spec, [sites["clean"]], tmp_path / "o", report=False)
    clean = json.loads(run_study(spec).results.to_json())
    got = json.loads(run.run.results.to_json())
    # a pooled run also lists its site files (inputs.sites), which a plain run has not
    assert diff_paths(clean, got) == [
        ".inputs.patients.file",
        ".inputs.patients.sha256",
        ".inputs.sites",
    ]


def test_pool_cli_writes_the_analyze_outputs_plus_pooling_files(sites, tmp_path):
    res = CliRunner().invoke(
        app, ["pool", "--spec", str(sites["spec"]), "--out", str(tmp_path / "o"), "-q"]
    )
    assert res.exit_code == 0, res.output
    names = {p.name for p in (tmp_path / "o").iterdir()}
    assert {"results.json", "report.html", "restricted", "pooling.json", "run.json"} <= names
    assert (tmp_path / "o" / "restricted" / "pooled_patients.csv").is_file()
    assert "pooled_patients.csv" not in names  # row-level: in restricted/ only
    assert "Center A: 14" in res.output and "north.csv" in res.output
