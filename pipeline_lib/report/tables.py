"""The one table writer: nested JSON-like results to a CSV (the numbers, for other tools) and an
HTML page (what the Snakemake report shows inline: its HTML reporter offers CSV files only as a
download), both written atomically.

A table is made from ``{item: result}`` (a case, a target, a chain, an analysis, each with its
nested figures of merit).  Nested keys are joined with dots and list entries get their index
(``pairs[0].label``), so every number has one row.  Items that share the same quantities become
columns side by side (design cases); anything else is a long table of (item, quantity, value)."""
from __future__ import annotations

import csv
import html
import io
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pipeline_lib import atomic

# a list longer than this is a history or a curve, not a figure of merit: one cell says so
MAX_LIST = 12


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}, "c": [2, 3]}`` -> ``{"a.b": 1, "c": "2, 3"}``; lists of scalars longer
    than MAX_LIST as ``"(N values)"``, lists of mappings by index."""
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out if out or not prefix else {prefix: ""}
    if isinstance(value, (list, tuple)):
        if any(isinstance(v, (Mapping, list, tuple)) for v in value):
            out = {}
            for i, v in enumerate(value):
                out.update(flatten(v, f"{prefix}[{i}]"))
            return out
        text = f"({len(value)} values)" if len(value) > MAX_LIST else ", ".join(_text(v) for v in value)
        return {prefix: text}
    return {prefix or "value": value}


def layout(items: Mapping[str, Any], item_label: str = "item") -> tuple[list[str], list[list[Any]]]:
    """Columns and rows of the table of ``items``.  Several items with the same quantities sit side
    by side, one column each (quantity, case 1, case 2, ...), which keeps a report's narrow frame
    readable however many quantities there are; one item alone is (quantity, value); items with
    different quantities are listed one after the other as (item, quantity, value)."""
    flat = {name: flatten(v) for name, v in items.items()}
    # a quantity that only repeats the item's name ("case": "bridge") says nothing
    redundant = set.intersection(*({k for k, v in f.items() if v == name} for name, f in flat.items())) if flat else set()
    flat = {name: {k: v for k, v in f.items() if k not in redundant} for name, f in flat.items()}
    keys = [list(f) for f in flat.values()]
    if len(flat) > 1 and all(k == keys[0] for k in keys):
        return ["quantity", *flat], [[k, *(f[k] for f in flat.values())] for k in keys[0]]
    if len(flat) == 1:
        (f,) = flat.values()
        return ["quantity", "value"], [[k, v] for k, v in f.items()]
    return [item_label, "quantity", "value"], [[name, k, v] for name, f in flat.items() for k, v in f.items()]


def _text(v: Any) -> str:
    """A cell for a person: floats to 4 significant digits, None as empty (JSON's null is a NaN)."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, float):
        return "nan" if math.isnan(v) else f"{v:.4g}"
    return str(v)


def write_table(items: Mapping[str, Any], csv_path: str | os.PathLike, html_path: str | os.PathLike, *,
                title: str, item_label: str = "item", sources: list[str] | None = None) -> tuple[Path, Path]:
    """Write the table of ``items`` (see :func:`layout`) as CSV, full precision, and as an HTML page
    with ``title`` and the files it was made from."""
    columns, rows = layout(items, item_label)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    w.writerows([["" if v is None else v for v in row] for row in rows])
    atomic.write_text(csv_path, buf.getvalue())

    numeric = [all(isinstance(r[i], (int, float)) and not isinstance(r[i], bool) for r in rows if r[i] is not None)
               for i in range(len(columns))]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "\n".join("<tr>" + "".join(
        f'<td class="{"num" if numeric[i] else "txt"}">{html.escape(_text(v))}</td>' for i, v in enumerate(row))
        + "</tr>" for row in rows)
    src = "".join(f"<li><code>{html.escape(s)}</code></li>" for s in sources or [])
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: sans-serif; font-size: 14px; margin: 1em; color: #111; background: #fff; }}
table {{ border-collapse: collapse; }}
th, td {{ border: 1px solid #ccc; padding: 3px 8px; }}
th {{ background: #eee; text-align: left; position: sticky; top: 0; }}
td.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
tr:nth-child(even) td {{ background: #f7f7f7; }}
</style></head>
<body>
<h2>{html.escape(title)}</h2>
<table id="metagen-table">
<thead><tr>{head}</tr></thead>
<tbody>
{body}
</tbody>
</table>
<p>{len(rows)} rows; the same numbers at full precision in <code>{html.escape(Path(csv_path).name)}</code>.
Made from:</p><ul>{src}</ul>
</body></html>
"""
    atomic.write_text(html_path, page)
    return Path(csv_path), Path(html_path)
