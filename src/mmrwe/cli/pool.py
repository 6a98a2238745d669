"""``mmrwe pool`` and ``mmrwe pseudonymize``: the commands (the work is in :mod:`mmrwe.study`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from mmrwe.cli.console import Progress, err, out, print_summary, report_error
from mmrwe.core.errors import ValidationError


def register(app: Any) -> None:
    """Add ``pool`` and ``pseudonymize`` to the typer app of :mod:`mmrwe.cli.main`."""

    @app.command("pool")
    def pool_cli(
        spec: Annotated[
            Path,
            typer.Option(
                "--spec", "-s", help="The study spec (TOML) with \\[\\[sites]].", show_default=False
            ),
        ],
        site_files: Annotated[
            list[Path] | None,
            typer.Argument(
                help="Site files; default: every \\[\\[sites]] file of the spec.",
                show_default=False,
            ),
        ] = None,
        out_dir: Annotated[
            Path, typer.Option("--out", "-o", help="Output folder; created if missing.")
        ] = Path("mmrwe-pool"),
        quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
        debug: Annotated[
            bool, typer.Option("--debug", help="Show Python tracebacks (for bug reports).")
        ] = False,
    ) -> None:
        r"""Pool site files: validate each alone, merge, flag duplicates, analyse the pooled table.

        Each file is read with its \[\[sites]] entry (center, columns, date_format, delimiter, decimal, encoding, sheet, units, recode, absent). Conflicts are errors, never resolved silently: a center cell naming another center, a column typed differently across sites, a value outside declared levels, a column missing at one site.

        Duplicates across sites (same patient_id; or same sex, birth year (else age within 1 year) and start_date, with progression and death dates equal where both are known) stop the run until decided under \[\[pooling.duplicates]]. Of a confirmed pair one whole row is kept: the latest last_followup_date (\[pooling] keep = "longest_followup", the default) or the site listed first (keep = "first_site").

        Writes results.json and report.html as `mmrwe analyze` does, plus restricted/pooled_patients.csv (row-level) and pooling.json (per site: rows in = analysed + excluded with reasons; duplicates for review; center effects).
        """
        from rich.table import Table

        from mmrwe.spec import load_spec
        from mmrwe.study.pooling import POOLING_JSON, pool, site_table_rows

        try:
            s = load_spec(spec)
            with Progress(quiet) as progress:
                res = pool(s, site_files or [], out_dir, progress=progress)
        except BaseException as exc:
            if isinstance(exc, typer.Exit | KeyboardInterrupt):
                raise
            report_error(exc, debug)
            if isinstance(exc, ValidationError) and _failed_report(out_dir / POOLING_JSON):
                err.print(
                    f"Every issue and flagged duplicate pair is listed in {out_dir / POOLING_JSON}"
                )
            raise typer.Exit(1) from None
        table = Table(title="Sites")
        for c in ("site", "file", "rows in", "analysed", "excluded", "errors", "warnings"):
            table.add_column(c)
        for row in site_table_rows(res.pooled):
            table.add_row(*row)
        out.print(table)
        print_summary(res.run.results)
        for w in res.run.warnings:
            err.print(f"[yellow]warning:[/] {escape(w)}")
        out.print(escape(res.center_effects.get("statement", "")))
        from mmrwe.study.outputs import written_summary

        out.print(escape(written_summary(res.written, out_dir)))

    @app.command("pseudonymize")
    def pseudonymize_cli(
        file: Annotated[Path, typer.Argument(help="The site's patient table.", show_default=False)],
        key: Annotated[Path, typer.Option("--key", "-k", help="Key file (stays at the site).")],
        out_file: Annotated[
            Path,
            typer.Option("--out", "-o", help="Pseudonymized table to write (same format as FILE)."),
        ],
        spec: Annotated[
            Path | None,
            typer.Option(
                "--spec",
                "-s",
                help="Study spec: \\[\\[sites]] reading options and \\[pseudonymize].",
            ),
        ] = None,
        site: Annotated[
            str | None,
            typer.Option("--site", help="Center name of this site's \\[\\[sites]] entry."),
        ] = None,
        id_column: Annotated[
            str | None,
            typer.Option(
                "--id-column",
                help="Column replaced by the keyed hash (default: the mapped patient_id).",
            ),
        ] = None,
        drop: Annotated[
            list[str] | None,
            typer.Option("--drop", help="A direct identifier column to drop (repeatable)."),
        ] = None,
        keep: Annotated[
            list[str] | None,
            typer.Option(
                "--keep",
                help="A column that looks identifying (by name or content) but is kept knowingly (repeatable).",
            ),
        ] = None,
        keep_only: Annotated[
            list[str] | None,
            typer.Option(
                "--keep-only",
                help="Allow-list: only the id column and these columns leave (repeatable, or comma-separated: --keep-only age,sex,hgb); every other column is dropped.",
            ),
        ] = None,
        dates: Annotated[
            str | None,
            typer.Option(
                "--dates",
                help="keep (default), relative (whole days from each patient's start_date; no calendar date leaves) or shift (one keyed offset per patient).",
                show_default=False,
            ),
        ] = None,
        birth_dates: Annotated[
            str | None,
            typer.Option(
                "--birth-dates",
                help="A kept birth-date column becomes: year (birth_year, default), age (age_at_index) or keep (exact dates; warned).",
                show_default=False,
            ),
        ] = None,
        shift_dates: Annotated[
            bool | None,
            typer.Option(
                "--shift-dates/--no-shift-dates",
                help="Same as --dates shift (kept for existing scripts).",
            ),
        ] = None,
        max_shift_days: Annotated[
            int | None,
            typer.Option("--max-shift-days", help="Largest shift, in days (default 182)."),
        ] = None,
        date_format: Annotated[
            str | None,
            typer.Option("--date-format", help="How text dates are written, e.g. %d/%m/%Y."),
        ] = None,
        delimiter: Annotated[
            str | None, typer.Option("--delimiter", help="CSV field separator.")
        ] = None,
        decimal: Annotated[
            str | None, typer.Option("--decimal", help="Decimal mark of numbers written as text.")
        ] = None,
        encoding: Annotated[
            str | None, typer.Option("--encoding", help="Text encoding of CSV files.")
        ] = None,
        sheet: Annotated[str | None, typer.Option("--sheet", help="Excel sheet.")] = None,
        new_key: Annotated[
            bool,
            typer.Option(
                "--new-key", help="Create KEYFILE with a new random key (refused if it exists)."
            ),
        ] = False,
        force: Annotated[
            bool, typer.Option("--force", help="Replace --out if it exists (refused otherwise).")
        ] = False,
        neutralize_csv: Annotated[
            bool,
            typer.Option(
                "--neutralize-csv/--no-neutralize-csv",
                help="CSV output: prefix a single quote to text cells starting with = + - @ tab or CR, so a spreadsheet shows them as text (default on; off for files only programs read).",
            ),
        ] = True,
        debug: Annotated[
            bool, typer.Option("--debug", help="Show Python tracebacks (for bug reports).")
        ] = False,
    ) -> None:
        r"""Pseudonymize a site's table before it leaves the site.

        Patient ids become HMAC-SHA256(key, id) (20 hex digits); the key never leaves the site and is needed to recompute the link. The key must be random (--new-key makes one), private (chmod 600) and outside the output's folder. --dates relative writes every date as days from the patient's start_date, --dates shift moves all dates of a patient by one keyed random offset; both keep intervals (and PFS, OS) unchanged, neither hides the dates of patients followed up to a known common cut-off, so birth dates are coarsened to the year (--birth-dates). Listed direct identifiers are dropped, --keep-only sends only the listed columns; a column that looks identifying by name (name, birth date, address, phone, e-mail, tax or record number) or by content (e-mail, phone, street address, personal names, id codes, free text, high-cardinality text) and is not kept knowingly stops the command. The output has the input's format and is never replaced without --force; the input is never modified. See docs/security.md.
        """
        from mmrwe.core.safety import console_text
        from mmrwe.study.pseudonymize import pseudonymize_command

        try:
            summary = pseudonymize_command(
                file, key, out_file, spec_path=spec, site=site, id_column=id_column,
                drop=drop or (), keep=keep or (),
                keep_only=None if keep_only is None else [c.strip() for v in keep_only for c in v.split(",") if c.strip()],
                shift_dates=shift_dates,
                dates=dates, birth_dates=birth_dates,
                max_shift_days=max_shift_days, date_format=date_format, delimiter=delimiter,
                decimal=decimal, encoding=encoding, sheet=sheet, new_key=new_key, force=force,
                neutralize_csv=neutralize_csv,
            )  # fmt: skip
        except BaseException as exc:
            if isinstance(exc, typer.Exit | KeyboardInterrupt):
                raise
            report_error(exc, debug)
            raise typer.Exit(1) from None
        # JSON escapes control characters; markup=False keeps "[...]" in names literal.
        out.print(json.dumps(summary, indent=1), markup=False, highlight=False, soft_wrap=True)
        for w in summary.get("warnings", []):
            err.print("[yellow]warning:[/] " + console_text(w, 2000))


def _failed_report(path: Path) -> bool:
    """True if ``path`` is the pooling.json of a failed pooling (not an earlier run's)."""
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("status") == "failed"
    except (OSError, ValueError, AttributeError):
        return False
