"""Finding 12 (console part): values from files and specs are printed inert and bounded."""

from __future__ import annotations

import io
import os

import pytest
from _security_helpers import private_key, run_bounded
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

from mmrwe.core.errors import InputError, SpecError
from mmrwe.io import read_table

CLEAR = "\x1b[2J\x1b[H"
OSC8 = "\x1b]8;;http://attacker.example\x1b\\click\x1b]8;;\x1b\\"
MARKUP = "[link=http://attacker.example]IsaPd study[/link]"


def _render(text: str) -> str:
    """What a colour terminal receives when rich prints ``text`` as markup."""
    buf = io.StringIO()
    Console(
        file=buf, force_terminal=True, color_system="truecolor", width=200, highlight=False
    ).print(text)
    return buf.getvalue()


CASES = [
    # raw, printed text (markup=False), why
    (f"MM-{CLEAR}001", "MM-001", "CSI erase display and cursor home"),
    (f"id{OSC8}", "idclick", "OSC-8 hyperlink"),
    ("a\x1b]0;title\x07b", "ab", "OSC window title, BEL-terminated"),
    ("a\x9b31mred", "ared", "8-bit CSI"),
    ("a\x1bcb", "ab", "ESC c (terminal reset)"),
    ("x\x00y\x07z\x7f", "xyz", "C0 controls and DEL"),
    ("line1\nline2\tend\r", "line1 line2 end ", "line breaks and tabs become spaces"),
    ("abc\u202egnp.exe", "abcgnp.exe", "bidi override (Trojan Source)"),
    ("ünïcödé 血液", "ünïcödé 血液", "ordinary text is kept"),
]


@pytest.mark.parametrize(("raw", "want", "why"), CASES, ids=[c[2] for c in CASES])
def test_console_text_strips_controls_and_escapes(raw, want, why):
    from mmrwe.core.safety import console_text

    assert console_text(raw, markup=False) == want


def test_console_text_escapes_rich_markup():
    from mmrwe.core.safety import console_text

    shown = _render(console_text(MARKUP))
    assert "\x1b]8;" not in shown  # no live hyperlink
    assert "[link=http://attacker.example]IsaPd study[/link]" in shown  # printed literally
    assert "\x1b]8;" in _render(MARKUP)  # the unescaped text would have been a link


def test_console_text_cuts_long_values():
    from mmrwe.core.safety import console_text

    assert console_text("x" * 10_000, max_len=50, markup=False) == "x" * 49 + "…"
    assert len(console_text("y" * 10_000, markup=False)) == 200
    assert console_text("y" * 300, max_len=None, markup=False) == "y" * 300
    assert console_text("a\nb", keep_newlines=True, markup=False) == "a\nb"
    assert console_text("a\r\nb\x1b[2J", keep_newlines=True, markup=False) == "a\nb"


@given(st.text(max_size=300), st.integers(min_value=1, max_value=120))
def test_console_text_is_inert_and_bounded(s, n):
    from mmrwe.core.safety import console_text

    out = console_text(s, max_len=n, markup=False)
    assert len(out) <= n
    assert not any(ord(ch) < 32 or 127 <= ord(ch) < 160 for ch in out)
    rendered = _render(console_text(s, max_len=n))
    assert "\x1b]" not in rendered and "\x1b[2J" not in rendered


# --- where messages are built: io/ and pseudonymize ------------------------------------------


def test_reader_messages_carry_no_escapes(tmp_path):
    f = tmp_path / "p.csv"
    name = f"x{CLEAR}{OSC8}"
    f.write_text(f"patient_id,{name},{name}\nA,1,2\n")
    with pytest.raises(InputError) as exc:
        read_table(f)
    assert "\x1b" not in str(exc.value) and "appear more than once" in str(exc.value)


def test_pseudonymize_messages_carry_no_escapes_and_no_flood(tmp_path):
    from mmrwe.study.pseudonymize import pseudonymize_command

    f = tmp_path / "p.csv"
    evil = f"{CLEAR}{'A' * 5000}"
    f.write_text(f"id,{evil}\nA,1\n")
    key = private_key(tmp_path / "keys")
    with pytest.raises(InputError) as exc:  # no patient_id column: the columns are listed
        pseudonymize_command(f, key, tmp_path / "out" / "o.csv")
    msg = str(exc.value)
    assert "\x1b" not in msg and len(msg) < 1000
    f.write_text(f"patient_id,start_date\nA{CLEAR},{evil[:300]}\n")
    with pytest.raises(InputError) as exc:
        pseudonymize_command(f, key, tmp_path / "out" / "o.csv", dates="shift")
    msg = str(exc.value)
    assert "\x1b" not in msg and len(msg) < 1000
    assert exc.value.where.patient_id == "A" and exc.value.where.row == 2


# --- spec TOML: absurd nesting and size ---------------------------------------------------


def test_deeply_nested_spec_is_a_spec_error_not_an_internal_error(tmp_path):
    from mmrwe.spec import load_spec

    spec = tmp_path / "study.toml"
    spec.write_text("x = " + "[" * 200_000 + "]" * 200_000 + "\n")
    with pytest.raises(SpecError, match="nests arrays or tables too deeply"):
        load_spec(spec)
    spec.write_text("x = " + "[" * 40 + "1" + "]" * 40 + "\n")  # parses, still absurd
    with pytest.raises(SpecError, match="41 levels deep"):
        load_spec(spec)


def test_oversized_spec_is_refused(tmp_path):
    from mmrwe.spec import load_spec

    spec = tmp_path / "study.toml"
    spec.write_text("# " + "x" * 2_000_000 + "\n")
    with pytest.raises(SpecError, match="MMRWE_MAX_SPEC_BYTES"):
        load_spec(spec)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX named pipes")
def test_spec_that_is_a_fifo_is_refused(tmp_path):
    spec = tmp_path / "study.toml"
    os.mkfifo(spec)
    res = run_bounded(f"from mmrwe.spec import load_spec\nload_spec({str(spec)!r})", timeout=30)
    assert not res.timed_out and "named pipe" in res.out, res.out


def test_cli_validate_of_a_nested_spec_exits_1_without_traceback(tmp_path):
    from typer.testing import CliRunner

    from mmrwe.cli.main import app

    spec = tmp_path / "study.toml"
    spec.write_text("x = " + "[" * 200_000 + "]" * 200_000 + "\n")
    res = CliRunner().invoke(app, ["validate", str(spec)])
    assert res.exit_code == 1, res.output
    assert "internal error" not in res.output and "Traceback" not in res.output
