"""The report's tables, the everyday `metagen` commands and the one line of what to do that ends
an error a user meets.  (The report built from a real run, in a browser: tests/test_workflow.py.)"""
import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from pipeline_lib import artifacts
from pipeline_lib.report.stages import tables
from pipeline_lib.report.tables import flatten, layout, write_table

ROOT = Path(__file__).resolve().parent.parent


def test_nested_results_flatten_to_one_row_per_number():
    flat = flatten({"r2": {"C11": 0.9, "C12": 0.8}, "pairs": [{"label": "a"}], "short": [1, 2], "history": list(range(40))})
    assert flat == {"r2.C11": 0.9, "r2.C12": 0.8, "pairs[0].label": "a", "short": "1, 2", "history": "(40 values)"}


def test_cases_with_the_same_quantities_sit_side_by_side_and_others_are_listed_long():
    cols, rows = layout({"bridge": {"case": "bridge", "rrmse": 0.03}, "graded": {"case": "graded", "rrmse": 0.12}})
    assert cols == ["quantity", "bridge", "graded"] and rows == [["rrmse", 0.03, 0.12]]  # "case" repeats the name
    cols, rows = layout({"maps": {"variance": 0.2}, "slerp": {"valid": 0.5}}, "analysis")
    assert cols == ["analysis", "quantity", "value"] and rows == [["maps", "variance", 0.2], ["slerp", "valid", 0.5]]
    assert layout({"pixel2d": {"rows": 7}})[0] == ["quantity", "value"]


def test_a_table_is_a_csv_at_full_precision_and_an_escaped_html_page(tmp_path):
    write_table({"a<b": {"x": 1 / 3, "y": None}}, tmp_path / "t.csv", tmp_path / "t.html", title="T & <co>",
                sources=["data/x.json"])
    rows = list(csv.reader((tmp_path / "t.csv").open()))
    assert rows == [["quantity", "value"], ["x", repr(1 / 3)], ["y", ""]]
    page = (tmp_path / "t.html").read_text()
    assert "T &amp; &lt;co&gt;" in page and '<table id="metagen-table">' in page and "0.3333<" in page
    assert not list(tmp_path.glob(".*tmp*"))


def test_the_tables_stage_reads_json_and_artifacts_and_unwraps_a_key(tmp_path):
    db = tmp_path / "database.h5"
    artifacts.write(db, "pixel2d/stiffness", {"index": np.arange(3), "C": np.zeros((3, 3, 3))},
                    stats={"defects": {"isolated_solid": 2}})
    summary = tmp_path / "summary.json"
    summary.write_text(json.dumps({"targets": {"max_E22": {"best_fe": 0.2}, "min_nu21": {"best_fe": -0.1}},
                                   "seconds": 3}))
    out = {n: {"csv": str(tmp_path / f"{n}.csv"), "html": str(tmp_path / f"{n}.html"), "title": n}
           for n in ("db", "design")}
    out["db"]["sources"] = {"pixel2d": str(db)}
    out["design"].update(sources={"*": str(summary)}, key="targets", item="target")
    tables(spec=out)
    assert list(csv.reader((tmp_path / "db.csv").open()))[1:] == [["rows", "3"], ["defects.isolated_solid", "2"]]
    assert list(csv.reader((tmp_path / "design.csv").open())) == [["quantity", "max_E22", "min_nu21"],
                                                                   ["best_fe", "0.2", "-0.1"]]


def test_metagen_is_installed_and_python_m_pipeline_lib_still_works(tmp_path):
    exe = Path(sys.executable).with_name("metagen")  # the console script pyproject installs
    assert exe.exists(), "pip install -e . installs the metagen command"
    a = subprocess.run([str(exe), "summary", str(tmp_path)], capture_output=True, text=True, timeout=120)
    b = subprocess.run([sys.executable, "-m", "pipeline_lib", "summary", str(tmp_path)], capture_output=True,
                       text=True, timeout=120)
    assert a.returncode == b.returncode == 1 and a.stderr == b.stderr and "holds no data/ folder" in a.stderr


@pytest.mark.parametrize("name, make, problem, todo", [
    ("missing.h5", None, "file does not exist", "snakemake"),
    ("metrics.json", '{"r2": 1}', "not a readable HDF5 file", "open it directly"),
])
def test_an_error_a_user_meets_ends_with_what_to_do(tmp_path, capsys, name, make, problem, todo):
    from pipeline_lib.cli import main

    path = tmp_path / name
    if make is not None:
        path.write_text(make)
    assert main(["inspect", str(path)]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert problem in lines[-2] and str(path) in lines[-2]
    assert lines[-1].startswith("what to do: ") and todo in lines[-1]


def test_showing_an_artifact_without_samples_says_which_ones_have_them(tmp_path, capsys):
    from pipeline_lib.cli import main

    f = tmp_path / "stiffness.h5"
    artifacts.write(f, "pixel2d/stiffness", {"index": np.arange(2), "C": np.zeros((2, 3, 3))})
    assert main(["show", str(f), "--out", str(tmp_path / "x.png")]) == 1
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith("what to do: show and export take")


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is here: asking for one is no error")
def test_a_gpu_asked_for_but_absent_stops_the_stage_saying_what_to_do(monkeypatch, capsys):
    from pipeline_lib import cli
    from pipeline_lib.device import default_device

    monkeypatch.setenv("METAGEN_DEVICE", "cuda")
    monkeypatch.setattr(cli, "run_stage", lambda name, argv: default_device())  # where a stage asks for it
    assert cli.main(["run", "pixel2d.homogenize_shard"]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert "METAGEN_DEVICE=cuda asks for a GPU" in lines[-2]
    assert lines[-1].startswith("what to do: unset METAGEN_DEVICE")


def test_the_summary_lists_a_named_targets_designs_when_no_design_summary_was_made(tmp_path):
    import io

    from pipeline_lib.report.summary import summary

    d = tmp_path / "data/truss3d/design"
    d.mkdir(parents=True)
    (d / "nonlinear_stiff.json").write_text(json.dumps({"target": "nonlinear_stiff", "best_fe_nrmse": 0.0972,
                                                        "database_match_nrmse": 0.191}))
    (d / "notes.json").write_text(json.dumps({"unrelated": 1}))
    out = io.StringIO()
    summary(tmp_path, out)
    lines = [ln for ln in out.getvalue().splitlines() if ln.strip().startswith("truss3d")]
    assert any("nonlinear_stiff" in ln and "best_fe_nrmse 0.0972" in ln for ln in lines), out.getvalue()
    assert not any("notes" in ln for ln in lines)
