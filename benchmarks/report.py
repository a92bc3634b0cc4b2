"""The benchmarks' one table writer: a rich table for the terminal and the same rows as Markdown."""

from __future__ import annotations

from rich.table import Table


def table(title: str, rows: list[dict], percent: tuple[str, ...] = ()) -> tuple[Table, str]:
    """A rich table for the terminal and the same as Markdown."""
    cols = list(rows[0])
    t = Table(title=title)
    for c in cols:
        t.add_column(c, justify="left" if c in ("configuration", "client") else "right")

    def cell(c: str, v: object) -> str:
        if c in percent:
            return f"{100 * v:.1f}"
        return f"{v:.2f}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        t.add_row(*(cell(c, r[c]) for c in cols))
        lines.append("| " + " | ".join(cell(c, r[c]) for c in cols) + " |")
    return t, "\n".join(lines)
