"""Display formatting (kept for imports of ``mmrwe.report.format``; lives in mmrwe.tables)."""

from mmrwe.tables.format import fmt_ci, fmt_count, fmt_num, fmt_p, fmt_pct, render_value

__all__ = ["fmt_ci", "fmt_count", "fmt_num", "fmt_p", "fmt_pct", "render_value"]
