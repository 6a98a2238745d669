"""All-or-nothing outputs: a rerun that is killed, interrupted, fails or races another run
leaves the output folder holding one run's files, never a mix (issue "Nothing lost").

Each study-level file left must belong to one run: the first run writes title "first", the
rerun title "second", so results.json, the reports and run.json of the two differ.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mmrwe.cli.main import app
from mmrwe.core import outdir
from mmrwe.study import Study
from mmrwe.study.demo import demo_dir

SPEC = """
[study]
title = "{title}"
synthetic = true
time_unit = "months"

[data]
patients = "patients.csv"

[variables.sex]
levels = ["F", "M"]

[km]
landmarks = [12]

[[logrank]]
endpoint = "PFS"
by = "sex"

[[cox]]
endpoint = "OS"
terms = ["age", "sex"]
"""

STUDY_FILES = ("results.json", "report.html", "report.docx", "run.json", "validation.json")


def _inputs(d: Path, title: str) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    shutil.copy(demo_dir() / "patients.csv", d / "patients.csv")
    (d / "study.toml").write_text(SPEC.format(title=title))
    return d / "study.toml"


def _snapshot(out: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file in the folder (hidden leftovers included)."""
    return {
        p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.rglob("*"))
        if p.is_file()
    }


def _title(out: Path) -> str:
    return str(json.loads((out / "results.json").read_text())["study"]["title"])


def _cmd(spec: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "mmrwe.cli.main", "analyze", str(spec), "--out", str(out), "-q"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """A first run's folder and the rerun's complete outputs (for comparison)."""
    base = tmp_path_factory.mktemp("aon")
    first = _inputs(base / "in1", "first")
    second = _inputs(base / "in2", "second")
    ref1 = base / "ref1"
    ref2 = base / "ref2"
    subprocess.run(_cmd(first, ref1), check=True, capture_output=True)
    subprocess.run(_cmd(second, ref2), check=True, capture_output=True)
    return {"first": first, "second": second, "ref1": ref1, "ref2": ref2}


def _without_run_json(snap: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in snap.items() if k != "run.json"}


def _one_run(out: Path, before: dict[str, str], ref2: Path) -> str:
    """'first' if the folder is exactly as before the rerun, 'second' if it holds exactly the
    rerun's files; anything else (a mix, a missing file, a leftover) fails."""
    snap = _snapshot(out)
    if snap == before:
        return "first"
    new = _without_run_json(_snapshot(ref2))
    assert _without_run_json(snap) == new, sorted(set(snap.items()) ^ set(before.items()))
    assert "run.json" in snap
    return "second"


def _first_run(tmp: Path, runs: dict[str, Path]) -> tuple[Path, dict[str, str]]:
    out = tmp / "out"
    shutil.copytree(runs["ref1"], out)
    (out / "my-notes.txt").write_text("kept")  # not mmrwe's: every run keeps it
    (runs["ref2"] / "my-notes.txt").write_text("kept")
    return out, _snapshot(out)


def _watch_and_signal(cmd: list[str], out: Path, sig: int, delay: float | None) -> int:
    """Start a rerun; send ``sig`` at the first change of the folder (or after ``delay``)."""

    def state() -> tuple[object, ...]:
        try:
            st = out.stat()
            return (st.st_ino, st.st_mtime_ns, tuple(sorted(os.listdir(out))))
        except OSError:
            return ("missing",)

    start = state()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t0 = time.monotonic()
    while proc.poll() is None:
        if (delay is None and state() != start) or (
            delay is not None and time.monotonic() - t0 >= delay
        ):
            proc.send_signal(sig)
            break
        time.sleep(0.0005)
    return proc.wait(timeout=120)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT, signal.SIGTERM])
def test_a_rerun_killed_at_its_first_change_leaves_one_run(
    tmp_path: Path, runs: dict[str, Path], sig: int
) -> None:
    out, before = _first_run(tmp_path, runs)
    _watch_and_signal(_cmd(runs["second"], out), out, sig, None)
    _one_run(out, before, runs["ref2"])
    assert (out / "my-notes.txt").read_text() == "kept"


@pytest.mark.parametrize("delay", [0.5, 1.5, 3.0, 4.5])
def test_a_rerun_killed_at_any_time_leaves_one_run(
    tmp_path: Path, runs: dict[str, Path], delay: float
) -> None:
    out, before = _first_run(tmp_path, runs)
    _watch_and_signal(_cmd(runs["second"], out), out, signal.SIGKILL, delay)
    _one_run(out, before, runs["ref2"])
    # and the next run cleans what the killed one left, and completes
    subprocess.run(_cmd(runs["second"], out), check=True, capture_output=True)
    assert _one_run(out, before, runs["ref2"]) == "second"
    assert not [p for p in out.parent.iterdir() if "mmrwe-staging" in p.name]


def test_two_runs_into_one_folder(tmp_path: Path, runs: dict[str, Path]) -> None:
    out, before = _first_run(tmp_path, runs)
    procs = [
        subprocess.Popen(_cmd(runs["second"], out), stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    results = [(p.wait(timeout=180), p.stderr.read() if p.stderr else "") for p in procs]
    codes = sorted(c for c, _ in results)
    # either the second waited for nothing (the first had finished) or it was refused
    assert codes in ([0, 0], [0, 1]), results
    if codes == [0, 1]:
        refused = next(e for c, e in results if c == 1)
        assert "another mmrwe run is writing" in " ".join(refused.split())
    assert _one_run(out, before, runs["ref2"]) == "second"


def test_a_failed_rerun_leaves_the_previous_outputs(tmp_path: Path, runs: dict[str, Path]) -> None:
    out, before = _first_run(tmp_path, runs)
    bad = _inputs(tmp_path / "bad", "second").parent
    text = (bad / "patients.csv").read_text().splitlines()
    text[1] = text[1].replace("2023-01-02", "2023-13-45")  # an impossible date
    (bad / "patients.csv").write_text("\n".join(text) + "\n")
    res = CliRunner().invoke(app, ["analyze", str(bad / "study.toml"), "--out", str(out)])
    assert res.exit_code == 1
    assert _snapshot(out) == before
    said = " ".join(res.output.split())
    assert "left as they were" in said and "earlier run" in said


def test_leftovers_of_killed_runs_are_removed(tmp_path: Path, runs: dict[str, Path]) -> None:
    out, before = _first_run(tmp_path, runs)
    junk = tmp_path / ".out.mmrwe-staging-999-deadbeef"
    junk.mkdir()
    (junk / "results.json").write_text("{}")
    subprocess.run(_cmd(runs["second"], out), check=True, capture_output=True)
    assert not junk.exists()
    assert _one_run(out, before, runs["ref2"]) == "second"


def test_an_input_changed_during_the_run_commits_nothing(
    tmp_path: Path, runs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    out, before = _first_run(tmp_path, runs)
    spec = _inputs(tmp_path / "in", "second")
    real_run = Study.run

    def run_then_truncate(self: Study, *a: object, **k: object) -> object:
        res = real_run(self, *a, **k)  # type: ignore[arg-type]
        with (spec.parent / "patients.csv").open("r+") as fh:
            fh.truncate(100)
        return res

    monkeypatch.setattr(Study, "run", run_then_truncate)
    res = CliRunner().invoke(app, ["analyze", str(spec), "--out", str(out)])
    assert res.exit_code == 1
    assert "input file changed" in " ".join(res.output.split())
    assert _snapshot(out) == before


def test_disk_full_while_writing(
    tmp_path: Path, runs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    out, before = _first_run(tmp_path, runs)
    import mmrwe.study.outputs as outputs

    real = outputs.atomic_write
    calls = {"n": 0}

    def fill_up(path: Path, data: str | bytes) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(path, data)

    monkeypatch.setattr(outputs, "atomic_write", fill_up)
    res = CliRunner().invoke(app, ["analyze", str(runs["second"]), "--out", str(out)])
    assert res.exit_code == 1
    said = " ".join(res.output.split())
    assert "disk full" in said and "bug" not in said
    assert _snapshot(out) == before


def test_a_real_full_disk(tmp_path: Path, runs: dict[str, Path]) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    if (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(disk)], capture_output=True
        ).returncode
        != 0
    ):
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        out = disk / "out"
        shutil.copytree(runs["ref1"], out)
        before = _snapshot(out)
        free = shutil.disk_usage(disk).free
        (disk / "filler").write_bytes(b"\0" * max(0, free - 2 * 2**20))
        res = subprocess.run(_cmd(runs["second"], out), capture_output=True, text=True)
        assert res.returncode == 1
        said = " ".join(res.stderr.split())
        assert "disk space" in said or "disk full" in said
        assert "bug" not in said
        assert _snapshot(out) == before
    finally:
        subprocess.run(["umount", str(disk)], check=False)


def test_out_folder_problems_are_found_before_the_analysis(tmp_path: Path) -> None:
    spec = _inputs(tmp_path / "in", "x")
    a_file = tmp_path / "afile"
    a_file.write_text("x")
    res = CliRunner().invoke(app, ["analyze", str(spec), "--out", str(a_file)])
    assert res.exit_code == 1
    said = " ".join(res.output.split())
    assert "is a file, not a folder" in said and "bug" not in said
    # an input inside the out folder (at any depth) is refused
    res = CliRunner().invoke(app, ["analyze", str(spec), "--out", str(tmp_path)])
    assert res.exit_code == 1 and "holds the input" in " ".join(res.output.split())


@pytest.mark.skipif(
    os.geteuid() == 0 if hasattr(os, "geteuid") else True, reason="root writes anywhere"
)
def test_a_read_only_out_folder_is_refused_at_once(tmp_path: Path) -> None:
    spec = _inputs(tmp_path / "in", "x")
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        t0 = time.monotonic()
        res = CliRunner().invoke(app, ["analyze", str(spec), "--out", str(ro / "out")])
        assert res.exit_code == 1 and "cannot write" in " ".join(res.output.split())
        assert time.monotonic() - t0 < 5
    finally:
        ro.chmod(0o755)


# ---------------------------------------------------------------- the two ways of swapping


def _folder_with(out: Path, files: dict[str, str]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for k, v in files.items():
        (out / k).parent.mkdir(parents=True, exist_ok=True)
        (out / k).write_text(v)


def _owned(_: Path) -> set[str]:
    return {"results.json", "run.json", "figures", "old-only.txt"}


@pytest.mark.parametrize("how", ["exchange", "two renames", "inside"])
def test_each_way_of_swapping_keeps_user_files_and_removes_stale_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    out = tmp_path / "out"
    _folder_with(
        out,
        {
            "results.json": "old",
            "run.json": "old",
            "figures/a.pdf": "old",
            "old-only.txt": "old",
            "notes.txt": "mine",
            "mine/x.txt": "mine",
        },
    )
    if how == "two renames":
        monkeypatch.setattr(outdir, "exchange", lambda a, b: False)
    if how == "inside":
        monkeypatch.setattr(outdir.OutputFolder, "_can_swap", lambda self: False)
    with outdir.OutputFolder(out, _owned) as f:
        _folder_with(f.staging, {"results.json": "new", "run.json": "new", "figures/b.pdf": "new"})
        f.commit()
    assert _snapshot(out) == {
        k: hashlib.sha256(v.encode()).hexdigest()
        for k, v in {
            "results.json": "new",
            "run.json": "new",
            "figures/b.pdf": "new",
            "notes.txt": "mine",
            "mine/x.txt": "mine",
        }.items()
    } | {".mmrwe.lock": hashlib.sha256(b"").hexdigest()}  # the lock file stays, empty
    assert not [p for p in tmp_path.iterdir() if "staging" in p.name or "mmrwe-old" in p.name]


def test_a_swap_killed_between_its_two_renames_is_finished_by_the_next_run(tmp_path: Path) -> None:
    out = tmp_path / "out"
    staged = tmp_path / ".out.mmrwe-staging-1-aaaa"
    _folder_with(staged, {"results.json": "new", outdir.COMPLETE: ""})
    _folder_with(tmp_path / ".out.mmrwe-old-1-aaaa", {"results.json": "old"})
    with outdir.OutputFolder(out, _owned) as f:  # recovery happens on open
        assert (out / "results.json").read_text() == "new"
        f.close()
    assert not (out / outdir.COMPLETE).exists()
    # killed before the new files were complete: the old ones come back
    shutil.rmtree(out)
    _folder_with(tmp_path / ".out.mmrwe-staging-2-bbbb", {"results.json": "half"})
    _folder_with(tmp_path / ".out.mmrwe-old-2-bbbb", {"results.json": "old"})
    with outdir.OutputFolder(out, _owned):
        assert (out / "results.json").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_an_inside_swap_killed_midway_is_finished_by_the_next_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    _folder_with(out, {"results.json": "old", "run.json": "old", "notes.txt": "mine"})
    monkeypatch.setattr(outdir.OutputFolder, "_can_swap", lambda self: False)
    real_rename = Path.rename
    moves = {"n": 0}

    def die_after_one(self: Path, target: Path) -> Path:
        moves["n"] += 1
        if moves["n"] == 2:
            raise KeyboardInterrupt  # stands for a kill in the middle of the moves
        return real_rename(self, target)

    f = outdir.OutputFolder(out, _owned)
    f.open()
    _folder_with(f.staging, {"results.json": "new", "run.json": "new", "figures/b.pdf": "new"})
    monkeypatch.setattr(Path, "rename", die_after_one)
    with pytest.raises(KeyboardInterrupt):
        f._commit_inside()
    monkeypatch.setattr(Path, "rename", real_rename)
    f._lock.release()  # type: ignore[union-attr]
    assert not (out / "run.json").exists()  # a mix never reads as a finished run
    with outdir.OutputFolder(out, _owned):
        pass
    assert {
        k: (out / k).read_text() for k in ("results.json", "run.json", "figures/b.pdf", "notes.txt")
    } == {
        "results.json": "new",
        "run.json": "new",
        "figures/b.pdf": "new",
        "notes.txt": "mine",
    }
    assert not list(out.glob(".mmrwe-staging-*")) and not (out / outdir.JOURNAL).exists()


def test_a_second_run_is_refused_while_one_holds_the_folder(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with (
        outdir.OutputFolder(out, _owned),
        pytest.raises(outdir.OutputError, match="another mmrwe run is writing"),
    ):
        outdir.OutputFolder(out, _owned).open()
    with outdir.OutputFolder(out, _owned):  # released
        pass
