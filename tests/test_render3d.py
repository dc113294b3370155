"""pyvista renders and exports of pipeline_lib.viz.render3d (skipped where off-screen rendering fails)."""
import itertools
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from pipeline_lib.elasticity import from_orthotropic, isotropic

PROBE = """
import os
os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")
import pyvista as pv
pl = pv.Plotter(off_screen=True, window_size=(32, 32))
pl.add_mesh(pv.Sphere())
img = pl.screenshot()
assert img.shape[:2] == (32, 32) and img.std() > 0, img.shape
"""


@pytest.fixture(scope="session")
def offscreen():
    """Render a tiny sphere once, in a subprocess: a missing libEGL may abort VTK, not raise."""
    pytest.importorskip("pyvista")
    try:
        res = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        pytest.skip("off-screen rendering probe timed out")
    if res.returncode != 0:
        lines = [re.sub(r"\x1b\[[0-9;]*m", "", line).split("| ")[-1].strip()
                 for line in (res.stderr + res.stdout).splitlines() if line.strip()]
        why = next((ln for ln in lines if "Failed" in ln or "Error" in ln), lines[-1] if lines else "")
        pytest.skip(f"off-screen rendering not available (probe exit {res.returncode}): {why}")
    from pipeline_lib.viz import render3d
    return render3d


CORNERS = np.array(list(itertools.product([-1.0, 1.0], repeat=3)))
SC_BEAMS = np.array([(i, j) for i in range(8) for j in range(i + 1, 8)
                     if np.sum(CORNERS[i] != CORNERS[j]) == 1])  # the 12 cube edges
BCC_NODES = np.vstack([CORNERS, [0.0, 0.0, 0.0]])
BCC_BEAMS = np.array([(i, 8) for i in range(8)])


def shell(n=12):
    x = (np.arange(n) + 0.5) / n - 0.5
    r = np.linalg.norm(np.stack(np.meshgrid(x, x, x, indexing="ij")), axis=0)
    return (r > 0.25) & (r < 0.45)


def check_png(path, width, height):
    import matplotlib.image as mpimg

    assert path.exists() and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    img = mpimg.imread(path)
    assert img.shape[:2] == (height, width)
    assert len(np.unique(img[..., :3].reshape(-1, 3), axis=0)) > 10, "blank image"
    assert not list(path.parent.glob(".*.tmp*")), "temporary file left behind"


def test_render_lattices(offscreen, tmp_path):
    frames = [(CORNERS, SC_BEAMS, 0.08), (BCC_NODES, BCC_BEAMS, 0.05), (CORNERS, SC_BEAMS, 0.15)]
    out = offscreen.render_lattices(frames, tmp_path / "lattices.png", titles=["SC", "BCC", "SC thick"],
                                    ncol=2, window=160)
    check_png(out, 2 * 160, 2 * 160)


def test_render_elastic_surfaces(offscreen, tmp_path):
    C = np.stack([isotropic(1.0, 0.3), from_orthotropic([1, 0.3, 0.3, 1, 0.3, 1, 0.1, 0.1, 0.1])])
    out = offscreen.render_elastic_surfaces(C, tmp_path / "sub" / "elastic.png", titles=["iso", "cubic"],
                                            window=200)
    check_png(out, 2 * 200, 200)


def test_render_voxels(offscreen, tmp_path):
    cells = np.stack([shell(), np.zeros((12, 12, 12), bool)])  # an empty cell must not break the gallery
    out = offscreen.render_voxels(cells, tmp_path / "voxels.png", titles=["shell", "empty"], window=160)
    check_png(out, 2 * 160, 160)


def test_export_voxels(offscreen, tmp_path):
    import pyvista as pv

    cell = shell()
    stl = pv.read(offscreen.export_voxels(cell, tmp_path / "shell.stl"))
    assert stl.n_cells > 0 and stl.n_open_edges == 0
    assert np.allclose(stl.bounds, (1 / 12, 11 / 12) * 3, atol=1e-6)  # shell spans voxels 1..10
    full = pv.read(offscreen.export_voxels(np.ones((4, 4, 4)), tmp_path / "full.stl"))
    assert full.n_open_edges == 0 and np.allclose(full.bounds, (0, 1) * 3)  # closed at the cell faces
    vti = pv.read(offscreen.export_voxels(cell, tmp_path / "shell.vti"))
    assert vti.n_cells == cell.size and vti.cell_data["solid"].sum() == cell.sum()
    # x varies fastest in VTK: the voxel (i, j, k) is cell i + n j + n^2 k.
    assert np.array_equal(vti.cell_data["solid"].reshape(cell.shape, order="F"), cell)
    vtu = pv.read(offscreen.export_voxels(cell, tmp_path / "shell.vtu"))
    assert vtu.n_cells == cell.sum()
    with pytest.raises(ValueError):
        offscreen.export_voxels(cell, tmp_path / "shell.obj")


def test_export_lattice(offscreen, tmp_path):
    import pyvista as pv

    vtp = pv.read(offscreen.export_lattice(CORNERS, SC_BEAMS, 0.1, tmp_path / "sc.vtp"))
    assert vtp.n_lines == len(SC_BEAMS) and np.allclose(vtp.point_data["radius"], 0.1)
    stl = pv.read(offscreen.export_lattice(CORNERS, SC_BEAMS, 0.1, tmp_path / "sc.stl"))
    assert stl.n_cells > 0 and np.allclose(stl.bounds, (-1.1, 1.1) * 3, atol=1e-3)
    assert sorted(os.listdir(tmp_path)) == ["sc.stl", "sc.vtp"]
