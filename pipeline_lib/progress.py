"""Progress of a long loop in a job's log, so that `tail -f data/<chain>/logs/<job>.log` shows how
far it is: a line with the count, the rate and the time left, every few seconds.

    for cell in track(cells, "defect fixing", unit="cells"):
        ...
    progress = Progress("SIMP iterations", total=300, unit="it")
    for it in ...:
        ...
        progress.update(note=f"{active.sum()} seeds still moving")
    progress.close()

Lines go through :mod:`logging` (the jobs' logs).  A loop that ends within the interval says
nothing, so short calls of the same code (tests, small inputs) stay quiet; a long one logs its
first line after ``every`` seconds and a last line when it ends.  The interval is 5 s, or the
environment's METAGEN_PROGRESS_SECONDS (0 logs every step)."""
from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

log = logging.getLogger("pipeline_lib.progress")
T = TypeVar("T")


def _interval() -> float:
    try:
        return float(os.environ.get("METAGEN_PROGRESS_SECONDS", "5"))
    except ValueError:
        return 5.0


def _clock(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


class Progress:
    """Counts steps of ``what`` (out of ``total`` when known) and logs a progress line at most
    every ``every`` seconds; ``note`` adds what the numbers cannot say (a residual, seeds left)."""

    def __init__(self, what: str, total: int | None = None, *, unit: str = "items", every: float | None = None,
                 logger: logging.Logger | None = None):
        self.what, self.total, self.unit = what, total, unit
        self.every = _interval() if every is None else every
        self.log = logger or log
        self.done = 0
        self.start = self.last = time.monotonic()
        self.lines = 0
        self.logged = -1  # the count the last line showed

    def line(self, note: str = "") -> str:
        elapsed = time.monotonic() - self.start
        rate = self.done / elapsed if elapsed > 0 else float("inf")
        parts = [f"{self.what}: {self.done}" + (f"/{self.total} ({100 * self.done / self.total:.0f}%)"
                                                 if self.total else f" {self.unit}")]
        if self.done and elapsed > 0:  # slow steps read better as seconds each
            parts.append(f"{rate:.3g} {self.unit}/s" if rate >= 1 else f"{1 / rate:.3g} s each")
        parts.append(f"elapsed {_clock(elapsed)}")
        if self.total and 0 < self.done < self.total and rate > 0:
            parts.append(f"ETA {_clock((self.total - self.done) / rate)}")
        return ", ".join(p for p in parts if p) + (f" -- {note}" if note else "")

    def update(self, n: int = 1, note: str = "") -> None:
        self.done += n
        now = time.monotonic()
        if now - self.last >= self.every:
            self.log.info("%s", self.line(note))
            self.last, self.lines, self.logged = now, self.lines + 1, self.done

    def close(self, note: str = "") -> None:
        """The last line, when the loop was long enough to have said anything."""
        if self.logged != self.done and (self.lines or time.monotonic() - self.start >= self.every):
            self.log.info("%s", self.line(note or "done"))
            self.lines, self.logged = self.lines + 1, self.done


def track(items: Iterable[T], what: str, total: int | None = None, *, unit: str = "items",
          every: float | None = None) -> Iterator[T]:
    """``items`` unchanged, with a :class:`Progress` counting them."""
    if total is None:
        try:
            total = len(items)  # type: ignore[arg-type]
        except TypeError:
            total = None
    progress = Progress(what, total, unit=unit, every=every)
    for item in items:
        yield item
        progress.update()
    progress.close()
