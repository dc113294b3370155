"""The progress lines long stages write to their logs (pipeline_lib.progress)."""
import logging
import re
import time

from pipeline_lib.progress import Progress, track


def test_a_long_loop_logs_its_count_rate_and_time_left(caplog):
    caplog.set_level(logging.INFO, "pipeline_lib.progress")
    for _ in track(range(4), "defect fixing", unit="cells", every=0):
        time.sleep(0.01)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 4
    assert re.fullmatch(r"defect fixing: 1/4 \(25%\), [\d.]+ cells/s, elapsed 0:00, ETA 0:00", lines[0]), lines[0]
    assert lines[-1].startswith("defect fixing: 4/4 (100%)") and "ETA" not in lines[-1]


def test_a_short_loop_says_nothing_and_slow_steps_read_as_seconds_each(caplog):
    caplog.set_level(logging.INFO, "pipeline_lib.progress")
    for _ in track(range(100), "quick", every=60):
        pass
    assert not caplog.records
    p = Progress("MRF dual decomposition", unit="it", every=0)
    p.start -= 10  # ten seconds for the first iteration
    p.update(note="energy 3.7")
    (line,) = [r.getMessage() for r in caplog.records]
    assert re.fullmatch(r"MRF dual decomposition: 1 it, 10 s each, elapsed 0:10 -- energy 3.7", line), line


def test_the_interval_comes_from_the_environment(monkeypatch, caplog):
    caplog.set_level(logging.INFO, "pipeline_lib.progress")
    monkeypatch.setenv("METAGEN_PROGRESS_SECONDS", "0")
    list(track([1, 2], "shard"))
    assert len(caplog.records) == 2
