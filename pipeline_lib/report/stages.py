"""The report's one stage: its tables, from the run's JSON results and databases."""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from pipeline_lib import artifacts
from pipeline_lib.report.tables import write_table

log = logging.getLogger(__name__)

STAGES = ("tables",)


def result_of(path: str | Path) -> dict[str, Any]:
    """What one source file says: a JSON file's content; an artifact's size (rows) and its stats
    (duplicates dropped, defects fixed, screening counts, ...)."""
    path = Path(path)
    if path.suffix == ".json":
        try:
            return json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"{path}: not a readable JSON file ({exc})") from None
    with artifacts.open_artifact(path) as h5:
        schema = artifacts.schema_of(str(h5.attrs["kind"]))
        first = schema.fields[0].name
        return {"rows": int(h5[first].shape[0]), **json.loads(h5.attrs.get("stats", "{}"))}


def tables(*, spec: dict) -> None:
    """The report's tables, each a CSV and an HTML page: ``spec`` maps a table's name to its
    ``csv``, ``html``, ``title``, ``item`` (what a row is) and ``sources`` ({item: file}); a source
    named ``*`` gives its own items (the cases, the analyses), or those under its ``key``
    (``targets``)."""
    for name, t in spec.items():
        items = {}
        for item, path in t["sources"].items():
            result = result_of(path)
            if item == "*":
                items.update(result[t["key"]] if t.get("key") else result)
            else:
                items[item] = result
        write_table(items, t["csv"], t["html"], title=t["title"], item_label=t.get("item", "item"),
                    sources=[str(p) for p in t["sources"].values()])
        log.info("table %s: %d items -> %s", name, len(items), t["html"])
