"""The console: errors, issues, progress and summaries as the commands print them.

Every text that comes from the user's data or spec is printed with rich markup escaped, so
"[data]" in a message stays "[data]".
"""

from __future__ import annotations

import time
import traceback
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from mmrwe.core.errors import Issue, MmrweError, ValidationError
from mmrwe.core.safety import console_text
from mmrwe.spec.errors import InvalidSpecError


class SafeConsole(Console):
    """A rich console that never prints a control character: an escape sequence in a value
    from a data file or a spec (``ESC[2J`` in an id, an OSC-8 link) is removed from every
    text printed, wherever the message was built (docs/security.md)."""

    def print(self, *objects: Any, **kwargs: Any) -> None:
        safe = tuple(
            console_text(o, None, markup=False, keep_newlines=True) if isinstance(o, str) else o
            for o in objects
        )
        super().print(*safe, **kwargs)


err = SafeConsole(stderr=True, highlight=False, soft_wrap=True)
out = SafeConsole(highlight=False, soft_wrap=True)


def report_error(exc: BaseException, debug: bool) -> None:
    """Print an error for the user: what, where, fix; rich markup in messages escaped."""
    if debug:
        traceback.print_exception(exc)
    if isinstance(exc, ValidationError):
        errors = [i for i in exc.issues if i.severity == "error"]
        err.print(
            f"[bold red]Validation failed:[/] {len(errors)} error(s), "
            f"{len(exc.issues) - len(errors)} other issue(s). Nothing was analysed."
        )
        for issue in errors[:50]:
            print_issue(issue)
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
            print_issue(issue)
    elif isinstance(exc, MmrweError):
        err.print(f"[bold red]error:[/] {escape(str(exc))}")
    else:
        err.print(
            f"[bold red]internal error:[/] {escape(f'{type(exc).__name__}: {exc}')}\n"
            "This is a bug in mmrwe; please report it with the output of `--debug`."
        )


def print_issue(issue: Issue) -> None:
    """One issue in three lines: code and what, where, fix."""
    color = {"error": "red", "warning": "yellow"}.get(issue.severity, "cyan")
    err.print(f"[{color}]{issue.code} {issue.severity}[/]: {escape(issue.what)}")
    err.print(f"  at {issue.where}", markup=False)
    if issue.fix:
        err.print(f"  fix: {issue.fix}", markup=False)


class Progress:
    """A status line per pipeline step on stderr (silent with --quiet)."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.status: Any = None
        self.t0 = time.perf_counter()

    def __enter__(self) -> Progress:
        if not self.quiet:
            self.status = err.status("Starting", spinner="dots")
            self.status.__enter__()
        return self

    def __call__(self, step: str) -> None:
        if self.status is not None:
            elapsed = time.perf_counter() - self.t0
            self.status.update(f"{escape(step)} ... ({elapsed:.0f} s)")

    def __exit__(self, *exc: object) -> None:
        if self.status is not None:
            self.status.__exit__(None, None, None)


def print_summary(results: Any) -> None:
    """The endpoints table printed after a run."""
    eps = results.get("endpoints", {})
    table = Table(title=escape(f"{results['study']['title']}: n = {results['cohort']['n']}"))
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
