"""KL weight (beta) schedules, as config: {kind: constant | linear | cyclical, ...}.

* constant: beta = value
* linear: beta rises from start to value over ``epochs`` epochs (after ``delay``), then stays
* cyclical (Fu et al. 2019, used by paper 002): ``cycles`` cycles over the run; within each, beta
  rises linearly from 0 to ``value`` over the first ``ratio`` of the cycle, then stays at ``value``
"""
from __future__ import annotations

from typing import Mapping


def beta(schedule: Mapping, epoch: float | None, total_epochs: int) -> float:
    """beta at a (fractional) epoch; ``epoch=None`` gives the schedule's target value, the fixed
    weight validation losses use so that they stay comparable while beta moves."""
    kind = schedule.get("kind", "constant")
    value = float(schedule.get("value", 1.0))
    if kind == "constant" or epoch is None:
        return value
    if kind == "linear":
        start = float(schedule.get("start", 0.0))
        delay = float(schedule.get("delay", 0))
        span = max(float(schedule.get("epochs", total_epochs)), 1e-9)
        t = min(max((epoch - delay) / span, 0.0), 1.0)
        return start + (value - start) * t
    if kind == "cyclical":
        cycles = int(schedule.get("cycles", 4))
        ratio = float(schedule.get("ratio", 0.5))
        period = max(total_epochs / cycles, 1e-9)
        t = (epoch % period) / period
        return value * min(t / ratio, 1.0)
    raise ValueError(f"unknown beta schedule {kind!r}; use constant, linear or cyclical")
