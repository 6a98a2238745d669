"""Command line: ``mmrwe analyze | validate | demo | init | schema | explain | pool | pseudonymize``.

The commands parse arguments, call :class:`mmrwe.Study` (or the pooling and pseudonymize
functions of :mod:`mmrwe.study`) and print. Bad input ends with exit status 1 and a message
that says what, where and how to fix it; a Python traceback appears only with ``--debug``.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.markup import escape
from rich.table import Table

from mmrwe.cli.console import Progress, err, out, print_issue, print_summary, report_error
from mmrwe.core.errors import MmrweError
from mmrwe.core.version import __version__

app = typer.Typer(
    name="mmrwe",
    help=(
        "Run a multicenter real-world study in multiple myeloma, from a raw patient table to a "
        "report, with statistics that agree with R.\n\n"
        "Start with `mmrwe demo --out demo-out` to see a complete run on a synthetic cohort; "
        "for your own data, `mmrwe init DATAFILE` writes a starting study.toml."
    ),
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion for bash, zsh, fish, PowerShell
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
)

SpecArg = Annotated[
    Path,
    typer.Argument(
        help="The study spec (TOML). Data paths inside it are relative to its folder.",
        show_default=False,
    ),
]
OutOpt = Annotated[
    Path,
    typer.Option(
        "--out",
        "-o",
        help="Output folder; created if missing. Only files mmrwe writes are overwritten.",
    ),
]
#: Exit statuses (also in the help text): 0 success, 1 invalid spec or data (nothing
#: analysed), 2 command-line usage, 3 one or more analyses failed (results written).
EXIT_ANALYSIS_FAILED = 3

DebugOpt = Annotated[
    bool, typer.Option("--debug", help="Show Python tracebacks (for bug reports).")
]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")]


def _version(value: bool) -> None:
    if value:
        out.print(f"mmrwe {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Multicenter real-world evidence in multiple myeloma."""


def run_and_write(
    spec_path: Path | Callable[[Path], Path], out_dir: Path, quiet: bool
) -> tuple[Any, dict[str, Path]]:
    """``analyze``: run the spec and write every output, all or nothing.

    The output folder is opened first (writable, not a file, room on the disk, no other run
    in it), the inputs are hashed, the outputs written to a staging folder; only when the
    inputs are unchanged is it swapped in. ``spec_path`` may be a function that writes the
    spec into the staging folder and returns its path (the demo).
    """
    from mmrwe.core.outdir import os_error_words
    from mmrwe.study import Study
    from mmrwe.study.outputs import check_out_dir, input_files, input_hashes, output_folder

    study = None if callable(spec_path) else Study.from_toml(spec_path)
    files = [] if study is None else input_files(study.spec)
    check_out_dir(out_dir, files)
    with output_folder(out_dir, files) as folder:
        if study is None:
            assert callable(spec_path)
            study = Study.from_toml(spec_path(folder.staging))
            files = input_files(study.spec)
        before = input_hashes(files)
        with Progress(quiet) as progress:
            result = study.run(progress)
            try:
                written = result.write_into(folder.staging, progress=progress)
            except OSError as exc:
                raise os_error_words(exc, out_dir) from None
        if input_hashes(files) != before:  # a guard, not a feature: inputs are opened read-only
            raise MmrweError(
                "an input file changed during the run; nothing was written (the previous "
                f"outputs in {out_dir} are left as they were)",
                fix="do not edit inputs while mmrwe runs; re-run",
            )
        folder.commit()
    return result, folder.final(written.items())


def _run_failed(exc: BaseException, debug: bool, out_dir: Path) -> NoReturn:
    """A run that wrote nothing: say why, and that the output folder is as it was."""
    if isinstance(exc, typer.Exit):
        raise exc
    if isinstance(exc, KeyboardInterrupt):
        err.print("[bold red]Interrupted.[/]")
        code = 130
    else:
        report_error(exc, debug)
        code = 1
    try:
        finished = json.loads((out_dir / "run.json").read_text(encoding="utf-8"))["finished_utc"]
        err.print(
            f"Nothing was written: the outputs in {escape(str(out_dir))} are left as they were "
            f"(an earlier run's, finished {escape(str(finished))})."
        )
    except (OSError, ValueError, KeyError, TypeError):
        pass
    raise typer.Exit(code) from None


@app.command()
def analyze(
    spec: SpecArg,
    out_dir: OutOpt = Path("mmrwe-out"),
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Run a study spec: validate, derive endpoints, analyse, write results.json and report.html.

    Validation always runs first; any error stops the run (exit status 1) and lists every
    problem with file, row, column, patient id and a fix.

    Exit status: 0 success (analyses that are not estimable from the data are reported as
    such, with warnings); 1 invalid spec or data, nothing analysed; 2 command-line usage;
    3 one or more analyses failed: every other result is written, each failed one with its
    reason (an internal error's traceback goes to mmrwe-errors.log in the output folder).
    """
    try:
        result, written = run_and_write(spec, out_dir, quiet)
    except BaseException as exc:
        _run_failed(exc, debug, out_dir)
    print_summary(result.results)
    for w in result.warnings:
        err.print(f"[yellow]warning:[/] {escape(w)}")
    from mmrwe.study.outputs import written_summary

    out.print(escape(written_summary(written, out_dir)))
    if result.failed:
        for key, reason in result.failed:
            err.print(f"[bold red]failed:[/] {escape(key)}: {escape(reason or '')}")
        err.print(
            f"[red]{len(result.failed)} analysis(es) failed[/]; every other result is written "
            "(exit status 3)."
        )
        raise typer.Exit(EXIT_ANALYSIS_FAILED)


@app.command()
def validate(
    spec: SpecArg,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write every issue to this JSON file.")
    ] = None,
    debug: DebugOpt = False,
) -> None:
    """Check the data against the spec without analysing; exit status 0 (valid) or 1 (errors).

    Every problem is reported at once: missing columns, duplicate ids, unreadable dates,
    impossible date order, implausible values for the declared unit, unknown response
    categories, values outside the declared levels, spec keys or column names that do not
    exist, and levels the spec names that the data do not have. A spec with problems is
    checked against the data too when its reading sections ([data], [variables], ...) are
    sound, so one run lists the problems of both.
    """
    from mmrwe.spec.errors import InvalidSpecError
    from mmrwe.study import Study

    try:
        report = Study.from_toml(spec).validate()
    except BaseException as exc:
        if isinstance(exc, typer.Exit | KeyboardInterrupt):
            raise
        spec_error = exc if isinstance(exc, InvalidSpecError) else None
        data_issues = _data_issues_of_partial_spec(spec_error) if spec_error else None
        if spec_error is None or data_issues is None:
            report_error(exc, debug)
        else:
            n = len(spec_error.issues)
            err.print(
                f"[bold red]Invalid study spec:[/] {n} problem{'s' if n != 1 else ''}; "
                f"the data, checked against the rest of the spec: {len(data_issues)} issue(s). "
                "Nothing was analysed."
            )
            for issue in (*spec_error.issues, *data_issues):
                print_issue(issue)
        if json_out is not None and isinstance(exc, InvalidSpecError):
            # The spec's own problems for tools, then those of the data (when they were read).
            issues = [*exc.issues, *(data_issues or ())]
            payload = {"issues": [i.to_dict() for i in issues], "exclusions": []}
            json_out.write_text(json.dumps(payload, indent=1) + "\n")
        raise typer.Exit(1) from None
    for issue in report.issues:
        print_issue(issue)
    if json_out is not None:
        json_out.write_text(json.dumps(report.to_dict(), indent=1) + "\n")
    n_err = len(report.errors)
    summary = (
        f"{report.n_input_rows} rows read from {report.source}; {n_err} error(s), "
        f"{len(report.issues) - n_err} other issue(s); {len(report.exclusions)} row(s) excluded"
    )
    if n_err:
        err.print(f"[bold red]invalid:[/] {escape(summary)}")
        raise typer.Exit(1)
    out.print(f"[green]valid:[/] {escape(summary)}")


#: Spec sections that decide how the data are read and typed: with a problem in one of
#: them, checking the data against the rest of the spec would report the wrong things.
_READING_SECTIONS = frozenset({"data", "sites", "variables", "response", "derive", "validation", "cohort"})  # fmt: skip


def _data_issues_of_partial_spec(exc: Any) -> list[Any] | None:
    """The data's issues under the parts of an invalid spec that could be read, so that
    one ``validate`` run lists every problem of the spec and of the data; None when the
    data cannot be checked (a problem in a reading section, or the data cannot be read).

    Issues that name a spec key the spec's own problems already name are left out.
    """
    import re

    from mmrwe.study import Study

    partial = getattr(exc, "partial", None)
    if partial is None:
        return None
    keys = {i.where.spec_key or "" for i in exc.issues if i.where is not None}
    roots = {re.split(r"[.\] ]", k.removeprefix("[["), maxsplit=1)[0] for k in keys}
    if not keys or roots & _READING_SECTIONS or "" in keys:
        return None
    try:
        report = Study(partial).validate()
    except Exception:
        return None  # a missing or unreadable file: the spec's problems are reported alone
    return [i for i in report.issues if (i.where.spec_key or "") not in keys]


@app.command()
def demo(
    out_dir: OutOpt = Path("mmrwe-demo"), quiet: QuietOpt = False, debug: DebugOpt = False
) -> None:
    """Run the embedded SYNTHETIC 51-patient multicenter cohort and compare with the published study.

    The cohort is generated by a seeded script to match the counts of Martino et al.,
    Hematol Oncol 2025 (IsaPd in daratumumab-refractory myeloma); it is not patient data.
    Its spec and data are copied to OUT/demo-input/ so you can edit and re-run them with
    `mmrwe analyze OUT/demo-input/study.toml --out OUT2`.
    """
    from mmrwe.study.demo import copy_demo_inputs, published_vs_reproduced

    try:
        t0 = time.perf_counter()
        result, written = run_and_write(
            lambda staging: copy_demo_inputs(staging / "demo-input"), out_dir, quiet
        )
        elapsed = time.perf_counter() - t0
    except BaseException as exc:
        _run_failed(exc, debug, out_dir)
    out.print(
        "[bold]SYNTHETIC COHORT[/]: generated to resemble the published study; no real patient data."
    )
    table = Table(title="Published (Martino et al. 2025) vs reproduced on the synthetic cohort")
    for c in ("quantity", "published", "reproduced"):
        table.add_column(c)
    for row in published_vs_reproduced(result.results):
        table.add_row(*row)
    out.print(table)
    from mmrwe.study.outputs import written_summary

    out.print(f"{escape(written_summary(written, out_dir))} ({elapsed:.1f} s)")


# `mmrwe pool` and `mmrwe pseudonymize` (multicenter pooling and site-side protection);
# `mmrwe init`, `mmrwe schema`, `mmrwe explain` (the first hour with one's own data).
from mmrwe.cli import init_cmd as _init  # noqa: E402
from mmrwe.cli import pool as _pool  # noqa: E402

_pool.register(app)
_init.register(app)


def main() -> None:
    """Entry point of the ``mmrwe`` console script."""
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
