"""``mmrwe init``, ``mmrwe schema`` and ``mmrwe explain``: the first hour with one's own data.

``init`` reads a data file, detects how it is written and what its columns hold
(:mod:`mmrwe.io.sniff`) and writes a commented starting spec (:mod:`mmrwe.spec.writer`);
``schema`` prints the JSON Schema of the spec for editors; ``explain`` documents one key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from mmrwe.cli.console import err, report_error
from mmrwe.cli.console import out as stdout


def register(app: Any) -> None:
    """Add ``init``, ``schema`` and ``explain`` to the typer app of :mod:`mmrwe.cli.main`."""

    @app.command("init")
    def init_cli(
        datafile: Annotated[
            Path | None,
            typer.Argument(
                help="The patient table: .csv/.tsv/.txt, .xlsx, .parquet, .sav or .sas7bdat.",
                show_default=False,
            ),
        ] = None,
        redcap: Annotated[
            tuple[Path, Path] | None,
            typer.Option(
                "--redcap",
                help="A REDCap project instead of DATAFILE: RECORDS.csv (the record export, raw field names as headers) and DICTIONARY.csv (its data dictionary).",
                metavar="RECORDS DICTIONARY",
                show_default=False,
            ),
        ] = None,
        groups: Annotated[
            Path | None,
            typer.Option(
                "--groups",
                help="With --redcap: the data access groups export (CSV), for the centers' display names.",
                show_default=False,
            ),
        ] = None,
        out: Annotated[
            Path,
            typer.Option(
                "--out", "-o", help="The spec to write (never overwritten without --force)."
            ),
        ] = Path("study.toml"),
        sheet: Annotated[
            str | None,
            typer.Option(
                "--sheet", help="Excel sheet holding the patients (needed when there are several)."
            ),
        ] = None,
        force: Annotated[bool, typer.Option("--force", help="Replace an existing spec.")] = False,
        debug: Annotated[
            bool, typer.Option("--debug", help="Show Python tracebacks (for bug reports).")
        ] = False,
    ) -> None:
        """Write a starting study spec for a data file, with every detected choice explained.

        Detects the encoding (utf-8, utf-8 with BOM, cp1252, latin-1), the separator, the
        decimal mark, the date format, the Excel sheet, missing-value markers, the columns
        holding patient_id, center, start_date, progression_date, death_date,
        last_followup_date and best_response (by name, in English, Italian, Spanish, French
        or German, and by content), and for the other columns their type, levels and unit.
        Each choice is a key with a comment saying what was seen. Dates whose day and month
        are <= 12 everywhere are not guessed: both formats are written and `mmrwe validate`
        stops at data.date_format until you keep one. The data file is only read.

        With --redcap RECORDS DICTIONARY (a REDCap project): writes the whole spec from the
        dictionary: whether the export holds raw codes or labels, the baseline event, the
        patient table's instruments, the instruments holding the lab and therapy tables,
        every checkbox field, and per field its type, choices (in the dictionary's order),
        label and unit.

        Exit status: 0 spec written; 1 the file cannot be read, --out exists, or a workbook
        has several sheets (choose one with --sheet); 2 usage.
        """

        from mmrwe.core.errors import MmrweError
        from mmrwe.study.init import write_redcap_spec, write_starter_spec

        if (datafile is None) == (redcap is None):
            err.print(
                "[bold red]error:[/] give either DATAFILE or --redcap RECORDS DICTIONARY"
                if datafile is not None
                else "[bold red]error:[/] missing DATAFILE (or --redcap RECORDS DICTIONARY)"
            )
            err.print("  fix: mmrwe init patients.csv, or mmrwe init --redcap records.csv dictionary.csv",
                      markup=False)  # fmt: skip
            raise typer.Exit(2)
        if groups is not None and redcap is None:
            err.print("[bold red]error:[/] --groups goes with --redcap")
            raise typer.Exit(2)
        try:
            if redcap is not None:
                starter = write_redcap_spec(redcap[0], redcap[1], out, groups=groups, force=force)
            else:
                assert datafile is not None
                starter = write_starter_spec(datafile, out, sheet=sheet, force=force)
        except MmrweError as exc:
            report_error(exc, debug)
            raise typer.Exit(1) from None
        except Exception as exc:
            report_error(exc, debug)
            raise typer.Exit(1) from None
        _print_summary(starter, out, stdout, err)

    @app.command("schema")
    def schema_cli(
        out: Annotated[
            Path | None,
            typer.Option(
                "--out", "-o", help="Write the schema to this file instead of printing it."
            ),
        ] = None,
        markdown: Annotated[
            bool,
            typer.Option(
                "--markdown", help="Print the key reference as Markdown (docs/spec.md) instead."
            ),
        ] = False,
    ) -> None:
        """Print the JSON Schema of the study spec (for editors and other tools).

        In VS Code with the Even Better TOML extension (taplo), put `#:schema PATH-OR-URL` on
        the first line of study.toml to get completion and checks as you type; `mmrwe init`
        writes that line. Example: `mmrwe schema --out study.schema.json`, then
        `#:schema ./study.schema.json`.
        """
        from mmrwe.core.errors import MmrweError
        from mmrwe.spec.schema import markdown_reference, schema_text
        from mmrwe.study.init import write_text

        text = markdown_reference() if markdown else schema_text()
        if out is None:
            typer.echo(text, nl=False)
        else:
            try:
                write_text(out, text)
            except MmrweError as exc:
                report_error(exc, False)
                raise typer.Exit(1) from None
            typer.echo(f"Wrote {out}")

    @app.command("explain")
    def explain_cli(
        key: Annotated[
            str,
            typer.Argument(
                help='A spec key or table: km.conf_type, "[[cox]].ties", data.columns, variables.hgb.unit.',
                show_default=False,
            ),
        ] = "",
    ) -> None:
        """Print the documentation of a spec key: type, default, allowed values, example.

        Without KEY: the top-level tables. Examples: `mmrwe explain km.conf_type`,
        `mmrwe explain "[[cox]].ties"`, `mmrwe explain data` (every key of [data]).
        """
        from rich.markup import escape

        from mmrwe.spec.schema import explain

        try:
            typer.echo(explain(key))
        except KeyError as exc:
            near = exc.args[0] if exc.args and isinstance(exc.args[0], list) else []
            err.print(f"[bold red]error:[/] {escape(repr(key))} is not a key of the study spec")
            if near:
                err.print(f"  did you mean: {', '.join(near)}?", markup=False)
            err.print(
                "  fix: `mmrwe explain` lists the tables; `mmrwe explain km` the keys of [km]",
                markup=False,
            )
            raise typer.Exit(1) from None


def _print_summary(starter: Any, out: Path, stdout: Any, err: Any) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"mmrwe init: {escape(starter.source_note)}")
    for c in ("key", "value"):
        table.add_column(c, overflow="fold")
    for s in starter.settings:
        if s.key == "missing_values":
            continue
        if s.value is None and s.candidates:
            value = "[yellow]UNDECIDED[/]: " + escape(" or ".join(repr(v) for v, _ in s.candidates))
        else:
            value = "-" if s.value is None else escape(repr(s.value))
        table.add_row(f"data.{s.key}", value)
    r = starter.redcap
    if r is not None:
        table.add_row("data.redcap.export", escape(repr(r.export)))
        table.add_row("data.redcap.baseline_event", escape(repr(r.baseline_event)))
        table.add_row("data.redcap.forms", escape(repr(list(r.forms))))
        for key, inst in (("labs", r.labs), ("therapy", r.therapy)):
            table.add_row(f"data.redcap.{key}", escape(repr(inst.instrument)) if inst else "-")
    for c in starter.columns:
        if r is not None and c.source == c.canonical:
            continue
        table.add_row(
            f"data.columns.{c.canonical}",
            escape(repr(c.source)) if c.source else "[yellow]not found[/]",
        )
    stdout.print(table)
    stdout.print(
        f"{len(starter.variables)} variables described (type, levels, unit). The spec says why "
        "each value was chosen, in a comment above it."
    )
    stdout.print(f"Wrote {escape(str(out))}.")
    for key in starter.undecided:
        err.print(
            f"[yellow]to do:[/] choose {key} in {escape(str(out))} (both candidates are written "
            "there with the evidence); `mmrwe validate` stops there until you do"
        )
    missing = [
        c.canonical
        for c in starter.columns
        if c.source is None and c.canonical not in ("center", "best_response")
    ]
    for name in missing:
        err.print(f"[yellow]to do:[/] map {name} under \\[data.columns] in {escape(str(out))}")
    stdout.print(f"Next: mmrwe validate {escape(str(out))}")
