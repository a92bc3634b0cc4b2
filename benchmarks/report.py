"""The benchmarks' table: a rich table for the terminal and the same rows as Markdown (spct's writer)."""

from __future__ import annotations

from rich.table import Table

from spct.eval.report import markdown_table


def table(title: str, rows: list[dict], percent: tuple[str, ...] = ()) -> tuple[Table, str]:
    """A rich table for the terminal and the same as Markdown; a column some rows lack is blank in them."""
    cols = list(dict.fromkeys(c for r in rows for c in r))
    t = Table(title=title)
    for c in cols:
        t.add_column(c, justify="left" if c in ("configuration", "client") else "right")

    def cell(c: str, v: object) -> str:
        if v is None:
            return ""
        if c in percent:
            return f"{100 * v:.1f}"
        return f"{v:.2f}" if isinstance(v, float) else str(v)

    cells = [[cell(c, r.get(c)) for c in cols] for r in rows]
    for r in cells:
        t.add_row(*r)
    return t, "\n".join(markdown_table(cols, cells))
