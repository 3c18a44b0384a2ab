"""How the benchmarks print their results: one Markdown table, ready to paste into docs/benchmarks.md."""

from __future__ import annotations

from collections.abc import Sequence


def table(columns: Sequence[str], rows: Sequence[Sequence[str]], widest: Sequence[str] = ()) -> str:
    """`rows` of cells under `columns`, each column as wide as its widest cell (or cell of `widest`, a row of
    usual values: then rows printed one by one, as `table(...).splitlines()[-1]`, line up)."""
    every = [list(columns), *map(list, rows), *([list(widest)] if widest else [])]
    widths = [max(len(row[i]) for row in every) for i in range(len(columns))]
    lines = ["| " + " | ".join(cell.ljust(width) for cell, width in zip(row, widths)) + " |"
             for row in [list(columns), *map(list, rows)]]
    lines.insert(1, "|" + "|".join("-" * (width + 2) for width in widths) + "|")
    return "\n".join(lines)
