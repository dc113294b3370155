"""Atomic file output, used by every writer of the pipeline (artifacts, checkpoints, JSON, figures,
renders, exports, the released-data writer).

``with output(path) as tmp:`` hands out a temporary name in the target's own folder (so the final
rename is atomic), hidden and fixed per target (``.NAME.tmp.SUFFIX``: matplotlib and VTK choose
the format from the suffix); on success the data are flushed to disk and renamed into place, on
any exception -- ``SystemExit`` from :func:`exit_on_sigterm` included -- the temporary is removed.
So a killed job never leaves a file that looks finished.  Only SIGKILL can leave a temporary
behind; because its name is fixed, the next attempt at the same target removes it first.
"""
from __future__ import annotations

import json
import os
import signal
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import numpy as np


def temporary(path: str | os.PathLike) -> Path:
    """The temporary name :func:`output` writes ``path`` under."""
    path = Path(path)
    return path.with_name(f".{path.stem}.tmp{path.suffix}")


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def output(path: str | os.PathLike) -> Iterator[Path]:
    """Write ``path`` atomically: yield a temporary path to write, rename it when the block ends."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary(path)
    tmp.unlink(missing_ok=True)  # a leftover of a SIGKILLed attempt
    try:
        yield tmp
        if not tmp.exists():
            raise FileNotFoundError(f"{path}: the writer produced nothing at {tmp}")
        _fsync(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text(path: str | os.PathLike, text: str) -> Path:
    with output(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Strict JSON (sorted keys; numpy scalars and arrays as plain numbers and lists; NaN and
    infinities as null, which JSON has no word for), atomically."""
    return write_text(path, json.dumps(_plain(obj), indent=2, sort_keys=True, allow_nan=False) + "\n")


def _plain(o):
    if isinstance(o, dict):
        return {k: _plain(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_plain(v) for v in o]
    if isinstance(o, np.ndarray):
        return _plain(o.tolist())
    if isinstance(o, np.generic):
        o = o.item()
    if isinstance(o, float) and not np.isfinite(o):
        return None
    if o is None or isinstance(o, (str, int, float, bool)):
        return o
    raise TypeError(f"{type(o).__name__} is not JSON serializable")


def exit_on_sigterm() -> None:
    """Turn SIGTERM (what Snakemake, SLURM and ``kill`` send) into ``SystemExit``, so that pending
    :func:`output` blocks remove their temporaries on the way out."""
    def handler(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)
    if hasattr(signal, "SIGHUP") and sys.platform != "win32":
        signal.signal(signal.SIGHUP, handler)
