"""3D pictures and exports for the 3D chains (truss3d, voxel3d): pyvista, rendered off-screen.

pyvista is imported inside the functions, after choosing VTK's EGL window, so importing this
module never needs a display (or even libEGL) and the pipeline runs on headless nodes.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from pipeline_lib import atomic
from pipeline_lib.elasticity import directional_young, sphere_directions


def _pv():
    """pyvista with an EGL (display-less) render window unless the user chose another."""
    os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")
    import pyvista as pv

    return pv


def _gallery(items: Sequence, draw, out, titles, ncol: int, window: int) -> Path:
    """One subplot per item, drawn by draw(plotter, index, item), saved as a PNG atomically."""
    pv = _pv()
    out = Path(out)
    n = len(items)
    ncol = max(1, min(ncol, n))
    nrow = max(1, -(-n // ncol))
    # DocumentTheme: white background and black text, passed per plotter so the global theme of
    # other pyvista users in the process stays untouched. Three lights give the three visible faces
    # of a voxel three different shades (the default light kit shades two of them alike).
    pl = pv.Plotter(shape=(nrow, ncol), off_screen=True, border=False, theme=pv.themes.DocumentTheme(),
                    window_size=(ncol * window, nrow * window), lighting="three lights")
    try:
        for k, item in enumerate(items):
            pl.subplot(k // ncol, k % ncol)
            draw(pl, k, item)
            if titles is not None:
                pl.add_text(str(titles[k]), position="upper_edge", font_size=max(6, window // 40),
                            color="black")
        with atomic.output(out) as tmp:
            pl.screenshot(tmp, return_img=False)
    finally:
        pl.close()
    return out


def _surface(mesh):
    """Outer surface; the explicit algorithm silences pyvista>=0.47's warning, older ones lack it."""
    try:
        return mesh.extract_surface(algorithm="dataset_surface")
    except TypeError:
        return mesh.extract_surface()


def _camera(pl, points: np.ndarray, margin: float = 1.25, shift: float = 0.0) -> None:
    """The same oblique parallel view for every subplot, z up, fitted to points (e.g. box corners).
    Off the cube diagonal, so a cubic frame does not collapse into a flat hexagon; parallel, so
    equal sizes and radii look equal across the gallery; margin leaves room for the title, and
    shift > 0 moves the picture left by that fraction of the half-width (room for a scalar bar)."""
    points = np.asarray(points, dtype=float).reshape(-1, 3)
    centre = (points.min(0) + points.max(0)) / 2
    view = np.array([3.2, 2.0, 1.6]) / np.linalg.norm([3.2, 2.0, 1.6])
    up = np.array([0.0, 0.0, 1.0]) - view[2] * view
    up /= np.linalg.norm(up)
    rel = points - centre
    right = np.cross(up, view)
    half = max(np.abs(rel @ up).max(), np.abs(rel @ right).max())
    centre = centre + shift * margin * half * right
    pl.enable_parallel_projection()
    pl.camera_position = [centre + 10 * (half + 1e-12) * view, centre, up]
    pl.camera.parallel_scale = margin * half
    pl.reset_camera_clipping_range()


def _box_corners(lo: float, hi: float) -> np.ndarray:
    return np.array(np.meshgrid(*[[lo, hi]] * 3)).reshape(3, -1).T


def _frame_meshes(nodes: np.ndarray, beams: np.ndarray, radius: float):
    """Beams as one line set plus its tubes; spheres at the used nodes close the joints."""
    pv = _pv()
    nodes = np.asarray(nodes, dtype=float)
    beams = np.asarray(beams, dtype=int).reshape(-1, 2)
    lines = pv.PolyData(nodes, lines=np.hstack([np.full((len(beams), 1), 2), beams]).ravel())
    tubes = lines.tube(radius=radius, n_sides=12)
    ball = pv.Sphere(radius=radius, theta_resolution=12, phi_resolution=12)
    joints = pv.PolyData(nodes[np.unique(beams)]).glyph(geom=ball, scale=False, orient=False)
    return lines, tubes.merge(joints).triangulate()


def render_lattices(frames: Sequence[tuple[np.ndarray, np.ndarray, float]], out: str | os.PathLike, *,
                    titles: Sequence[str] | None = None, ncol: int = 4, window: int = 320) -> Path:
    """Beam lattices as tubes, one per subplot; every subplot is framed on the same [-1, 1]^3 box
    from the same oblique view so sizes and radii compare across the gallery."""
    pv = _pv()
    box = pv.Box(bounds=(-1, 1, -1, 1, -1, 1)).outline()

    def draw(pl, k, frame):
        _draw_lattice(pl, frame, box)

    return _gallery(list(frames), draw, out, titles, ncol, window)


def _draw_lattice(pl, frame, box) -> None:
    nodes, beams, radius = frame
    if len(beams):
        pl.add_mesh(_frame_meshes(nodes, beams, radius)[1], color="#4a7fb5", smooth_shading=True, specular=0.3)
    pl.add_mesh(box, color="gray", opacity=0.35, line_width=1)
    _camera(pl, _box_corners(-1, 1))


def render_deformed(cells: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]],
                    out: str | os.PathLike, *, titles: Sequence[str] | None = None, ncol: int = 4,
                    window: int = 320) -> Path:
    """Deformed periodic cells (paper 002, Fig. 6a), one per subplot: each beam a tube from x_a to
    x_b coloured by the displacement magnitude (items (x_a, x_b, |u_a|, |u_b|, tube radius), the
    output of ``truss3d.nonlinear.CellModel.deformed``), the undeformed cell's box in grey."""
    pv = _pv()
    box = pv.Box(bounds=(-1, 1, -1, 1, -1, 1)).outline()

    def draw(pl, k, item):
        xa, xb, ua, ub, radius = item
        m = len(xa)
        pts = np.concatenate([xa, xb])
        lines = pv.PolyData(pts, lines=np.column_stack([np.full(m, 2), np.arange(m), m + np.arange(m)]).ravel())
        lines.point_data["|u|"] = np.concatenate([ua, ub])
        pl.add_mesh(lines.tube(radius=radius, n_sides=10), scalars="|u|", cmap="viridis", smooth_shading=True,
                    scalar_bar_args=dict(title=f"|u| ({k + 1})", vertical=True, position_x=0.82, position_y=0.1,
                                         width=0.08, height=0.6, title_font_size=12, label_font_size=10,
                                         fmt="%.2g", n_labels=3))
        pl.add_mesh(box, color="gray", opacity=0.35, line_width=1)
        _camera(pl, np.concatenate([_box_corners(-1, 1), pts]), shift=0.2)

    return _gallery(list(cells), draw, out, titles, ncol, window)


def render_elastic_surfaces(C: np.ndarray, out: str | os.PathLike, *, titles: Sequence[str] | None = None,
                            ncol: int = 4, window: int = 320) -> Path:
    """Directional Young's modulus surfaces r(d) = E(d) d: shows at a glance how anisotropic each
    material is (a sphere for isotropic C). Each subplot has its own colour scale and camera fit,
    since moduli may differ by orders of magnitude across a database."""
    C = np.asarray(C, dtype=float).reshape(-1, 6, 6)
    d, shape = sphere_directions()
    E = directional_young(C, d)  # (K, M)

    def draw(pl, k, Ek):
        _draw_surface(pl, k, Ek, d, shape)

    return _gallery(list(E), draw, out, titles, ncol, window)


def _draw_surface(pl, k: int, Ek: np.ndarray, d: np.ndarray, shape) -> None:
    pv = _pv()
    r = (Ek[:, None] * d).reshape(*shape, 3)
    grid = pv.StructuredGrid(r[..., 0], r[..., 1], r[..., 2])
    grid.point_data["E"] = Ek.reshape(shape).ravel(order="F")  # the grid's points are in Fortran order
    mid, half = (Ek.max() + Ek.min()) / 2, (Ek.max() - Ek.min()) / 2
    half = max(half, 1e-3 * abs(mid))  # a nearly isotropic C would otherwise show rounding noise
    # A unique bar title per subplot: pyvista links bars of equal title (and their colour ranges).
    pl.add_mesh(grid, scalars="E", cmap="viridis", smooth_shading=True, clim=(mid - half, mid + half),
                scalar_bar_args=dict(title=f"E ({k + 1})", vertical=True, position_x=0.82, position_y=0.1,
                                     width=0.08, height=0.6, title_font_size=12, label_font_size=10,
                                     fmt="%.3g", n_labels=3))
    pl.show_axes()
    _camera(pl, grid.points, margin=1.35, shift=0.2)


def render_lattices_with_surfaces(frames: Sequence[tuple[np.ndarray, np.ndarray, float]], C: np.ndarray,
                                  out: str | os.PathLike, *, titles: Sequence[str] | None = None, ncol: int = 4,
                                  window: int = 280) -> Path:
    """Lattices along a path (``ncol`` per row) with the elastic surface E(d) of each under it (paper
    002, Fig. 3-4); a lattice without a finite C (not valid) gets an empty surface panel."""
    pv = _pv()
    box = pv.Box(bounds=(-1, 1, -1, 1, -1, 1)).outline()
    C = np.asarray(C, dtype=float).reshape(-1, 6, 6)
    d, shape = sphere_directions()
    ok = np.isfinite(C).all(axis=(1, 2))
    E = np.full((len(C), len(d)), np.nan)
    if ok.any():
        E[ok] = directional_young(C[ok], d)
    items, names = [], []
    for r in range(0, len(frames), ncol):
        chunk = range(r, min(r + ncol, len(frames)))
        items += [("lattice", frames[k]) for k in chunk] + [None] * (ncol - len(chunk))
        names += [titles[k] if titles is not None else "" for k in chunk] + [""] * (ncol - len(chunk))
        items += [("surface", k, E[k]) for k in chunk] + [None] * (ncol - len(chunk))
        names += ["E(d)" if ok[k] else "not valid" for k in chunk] + [""] * (ncol - len(chunk))

    def draw(pl, k, item):
        if item is None:
            return
        if item[0] == "lattice":
            _draw_lattice(pl, item[1], box)
        elif np.isfinite(item[2]).all():
            _draw_surface(pl, item[1], item[2], d, shape)

    return _gallery(items, draw, out, names, ncol, window)


def _voxel_grid(cell: np.ndarray):
    """(n, n, n) voxels (x = i, y = j, z = k) as ImageData over [0, 1]^3 with cell data 'solid'."""
    pv = _pv()
    cell = np.asarray(cell)
    grid = pv.ImageData(dimensions=np.array(cell.shape) + 1, spacing=1.0 / np.array(cell.shape))
    grid.cell_data["solid"] = (cell != 0).astype(np.uint8).ravel(order="F")  # VTK: x varies fastest
    return grid


def render_voxels(cells: np.ndarray, out: str | os.PathLike, *, titles: Sequence[str] | None = None,
                  ncol: int = 4, window: int = 320) -> Path:
    """Voxel units as their exact (blocky) solid surface, so single-voxel features stay visible."""
    pv = _pv()
    box = pv.Box(bounds=(0, 1, 0, 1, 0, 1)).outline()

    def draw(pl, k, cell):
        solid = _voxel_grid(cell).threshold(0.5, scalars="solid")
        if solid.n_cells:
            # split_sharp_edges keeps voxel faces flat while the shading stays smooth.
            pl.add_mesh(_surface(solid), color="#c8894a", ambient=0.2, smooth_shading=True,
                        split_sharp_edges=True)
        pl.add_mesh(box, color="gray", opacity=0.35, line_width=1)
        _camera(pl, _box_corners(0, 1))

    return _gallery(list(np.asarray(cells)), draw, out, titles, ncol, window)


def export_voxels(cell: np.ndarray, path: str | os.PathLike, spacing=None) -> Path:
    """One voxel unit for other tools: ``.stl`` for printing/CAD, ``.vti``/``.vtu`` for ParaView.

    The STL is the marching-cubes surface of the cell padded by one empty voxel, so it is closed
    and its solid ends exactly on the faces of [0, 1]^3 (copies tile the periodic material).
    ``.vti`` keeps every voxel with cell data 'solid'; ``.vtu`` only the solid voxels.
    ``spacing`` (3,) sets the voxel size (default: 1 / shape, a unit cube)."""
    pv = _pv()
    path = Path(path)
    suffix = path.suffix.lower()
    grid = _voxel_grid(cell)
    if suffix == ".stl":
        cell = (np.asarray(cell) != 0).astype(np.float32)
        n = np.array(cell.shape)
        h = 1.0 / n if spacing is None else np.asarray(spacing, float)
        padded = pv.ImageData(dimensions=n + 2, spacing=h, origin=-0.5 * h)  # points = voxel centres
        padded.point_data["solid"] = np.pad(cell, 1).ravel(order="F")
        mesh = padded.contour([0.5], scalars="solid").triangulate().clean()
    elif suffix == ".vti":
        mesh = grid
    elif suffix == ".vtu":
        mesh = grid.threshold(0.5, scalars="solid")
    else:
        raise ValueError(f"export_voxels: unsupported suffix {path.suffix!r} (use .stl, .vti or .vtu)")
    with atomic.output(path) as tmp:
        mesh.save(tmp)
    return path


def export_lattice(nodes: np.ndarray, beams: np.ndarray, radius: float, path: str | os.PathLike) -> Path:
    """One beam lattice for other tools: ``.vtp`` lines with a point field 'radius' (ParaView's Tube
    filter can vary radius by it) or ``.stl`` tubes with closed joints for printing/CAD."""
    path = Path(path)
    lines, tubes = _frame_meshes(nodes, beams, radius)
    suffix = path.suffix.lower()
    if suffix == ".vtp":
        lines.point_data["radius"] = np.full(lines.n_points, float(radius))
        mesh = lines
    elif suffix == ".stl":
        mesh = tubes
    else:
        raise ValueError(f"export_lattice: unsupported suffix {path.suffix!r} (use .vtp or .stl)")
    with atomic.output(path) as tmp:
        mesh.save(tmp)
    return path
