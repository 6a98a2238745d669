"""Command line: ``mmrwe analyze | validate | demo`` (and ``init | schema | explain | pool | pseudonymize``).

Bad input ends with exit status 1 and a message that says what, where and how to fix it;
a Python traceback appears only with ``--debug``.
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from mmrwe import __version__
from mmrwe.core.errors import Issue, MmrweError, ValidationError
from mmrwe.spec.errors import InvalidSpecError

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
err = Console(stderr=True, highlight=False, soft_wrap=True)
out = Console(highlight=False, soft_wrap=True)

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


def _report_error(exc: BaseException, debug: bool) -> None:
    if debug:
        traceback.print_exception(exc)
    if isinstance(exc, ValidationError):
        errors = [i for i in exc.issues if i.severity == "error"]
        err.print(
            f"[bold red]Validation failed:[/] {len(errors)} error(s), {len(exc.issues) - len(errors)} warning(s). Nothing was analysed."
        )
        for issue in errors[:50]:
            _print_issue(issue)
        if len(errors) > 50:
            err.print(
                f"(+ {len(errors) - 50} more errors; run `mmrwe validate SPEC --json FILE` for the full list)"
            )
    elif isinstance(exc, InvalidSpecError):
        n = len(exc.issues)
        err.print(
            f"[bold red]Invalid study spec:[/] {n} problem{'s' if n != 1 else ''}. Nothing was read."
        )
        for issue in exc.issues:
            _print_issue(issue)
    elif isinstance(exc, MmrweError):
        err.print(f"[bold red]error:[/] {escape(str(exc))}")
    else:
        err.print(
            f"[bold red]internal error:[/] {type(exc).__name__}: {escape(str(exc))}\nThis is a bug in mmrwe; please report it with the output of `--debug`."
        )


def _print_issue(issue: Issue) -> None:
    color = {"error": "red", "warning": "yellow"}.get(issue.severity, "cyan")
    err.print(f"[{color}]{issue.code} {issue.severity}[/]: {escape(issue.what)}")
    err.print(f"  at {issue.where}", markup=False)
    if issue.fix:
        err.print(f"  fix: {issue.fix}", markup=False)


class _Progress:
    """A rich status line per pipeline step (silent with --quiet or when not a terminal)."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.status: Any = None
        self.t0 = time.perf_counter()

    def __enter__(self) -> _Progress:
        if not self.quiet:
            self.status = err.status("Starting", spinner="dots")
            self.status.__enter__()
        return self

    def __call__(self, step: str) -> None:
        if self.status is not None:
            self.status.update(f"{step} ...")

    def __exit__(self, *exc: object) -> None:
        if self.status is not None:
            self.status.__exit__(None, None, None)


def _analyze(spec_path: Path, out_dir: Path, quiet: bool) -> tuple[Any, Any, dict[str, Path]]:
    from mmrwe.cli.pipeline import check_out_dir, input_hashes, run_study, write_outputs
    from mmrwe.spec import load_spec

    spec = load_spec(spec_path)
    check_out_dir(spec, out_dir)
    before = input_hashes(spec)
    with _Progress(quiet) as progress:
        run = run_study(spec, progress)
        written = write_outputs(run, spec, out_dir, progress=progress)
    after = input_hashes(spec)
    if before != after:  # a guard, not a feature: inputs are opened read-only
        raise MmrweError(
            "an input file changed during the run",
            fix="do not edit inputs while mmrwe runs; re-run",
        )
    return spec, run, written


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
    """
    try:
        _, run, written = _analyze(spec, out_dir, quiet)
    except BaseException as exc:
        if isinstance(exc, typer.Exit | KeyboardInterrupt):
            raise
        _report_error(exc, debug)
        raise typer.Exit(1) from None
    _print_summary(run.results)
    for w in run.warnings:
        err.print(f"[yellow]warning:[/] {escape(w)}")
    out.print(f"Wrote {', '.join(p.name for p in written.values())} to {out_dir}/")


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
    categories, spec keys or column names that do not exist.
    """
    from mmrwe.cli.pipeline import load_and_validate
    from mmrwe.spec import load_spec

    try:
        s = load_spec(spec)
        v = load_and_validate(s)
        lab_issues = []
        if not v.errors and s.data.labs is not None:
            if s.data.engine != "pandas" and v.frame.empty and v.n_input_rows:
                err.print(
                    "[yellow]note:[/] the lab and therapy tables are checked in memory, for up "
                    "to MMRWE_LABS_MAX_PATIENTS patients; this cohort is larger: not checked"
                )
            else:
                from mmrwe.cli.pipeline import _derivation_issues, derive_from_labs

                deriv, _ = derive_from_labs(s, v)
                lab_issues = _derivation_issues(s, deriv)
    except MmrweError as exc:
        _report_error(exc, debug)
        if json_out is not None and isinstance(exc, InvalidSpecError):
            # The spec's own problems, for tools: the data were not read.
            payload = {"issues": [i.to_dict() for i in exc.issues], "exclusions": []}
            json_out.write_text(json.dumps(payload, indent=1) + "\n")
        raise typer.Exit(1) from None
    except Exception as exc:
        _report_error(exc, debug)
        raise typer.Exit(1) from None
    issues = [*v.issues, *lab_issues]
    for issue in issues:
        _print_issue(issue)
    if json_out is not None:
        json_out.write_text(
            json.dumps(
                {
                    "issues": [i.to_dict() for i in issues],
                    "exclusions": [e.to_dict() for e in v.exclusions],
                },
                indent=1,
            )
            + "\n"
        )
    n_err = sum(1 for i in issues if i.severity == "error")
    summary = f"{v.n_input_rows} rows read from {v.source.path.name}; {n_err} error(s), {len(issues) - n_err} other issue(s); {len(v.exclusions)} row(s) excluded"
    if n_err:
        err.print(f"[bold red]invalid:[/] {escape(summary)}")
        raise typer.Exit(1)
    out.print(f"[green]valid:[/] {summary}")


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
    from mmrwe.cli.demo import copy_demo_inputs, published_vs_reproduced

    try:
        spec_path = copy_demo_inputs(out_dir / "demo-input")
        t0 = time.perf_counter()
        _, run, written = _analyze(spec_path, out_dir, quiet)
        elapsed = time.perf_counter() - t0
    except BaseException as exc:
        if isinstance(exc, typer.Exit | KeyboardInterrupt):
            raise
        _report_error(exc, debug)
        raise typer.Exit(1) from None
    out.print(
        "[bold]SYNTHETIC COHORT[/]: generated to resemble the published study; no real patient data."
    )
    table = Table(title="Published (Martino et al. 2025) vs reproduced on the synthetic cohort")
    for c in ("quantity", "published", "reproduced"):
        table.add_column(c)
    for row in published_vs_reproduced(run.results):
        table.add_row(*row)
    out.print(table)
    out.print(
        f"Wrote {', '.join(p.name for p in written.values())} to {out_dir}/ in {elapsed:.1f} s"
    )


def _print_summary(results: Any) -> None:
    eps = results.get("endpoints", {})
    table = Table(title=f"{results['study']['title']}: n = {results['cohort']['n']}")
    for c in ("endpoint", "events", "median (95% CI)", "follow-up median"):
        table.add_column(c)
    for ep, r in eps.items():
        m = r["median"]
        med = (
            "not reached"
            if m["estimate"] is None
            else f"{m['estimate']:.1f} ({_f(m['lower'])}-{_f(m['upper'])})"
        )
        table.add_row(ep, f"{r['events']}/{r['n']}", med, _f(r.get("followup", {}).get("estimate")))
    out.print(table)


def _f(x: float | None) -> str:
    return "NR" if x is None else f"{x:.1f}"


# `mmrwe pool` and `mmrwe pseudonymize` (multicenter pooling; implementations in pool_cmd).
from mmrwe.cli.pool_cmd import register as _register_pool_commands  # noqa: E402

_register_pool_commands(app)

# `mmrwe init`, `mmrwe schema`, `mmrwe explain` (the first hour with one's own data).
from mmrwe.cli.init_cmd import register as _register_init_commands  # noqa: E402

_register_init_commands(app)


def main() -> None:
    """Entry point of the ``mmrwe`` console script."""
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
