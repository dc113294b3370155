"""Closed forms of rigid-jointed lattices against the homogenization (SC, BCC, octet).

    python benchmarks/truss3d_closed_forms.py

Prints C11, C12, C44 over rho (and C44 / rho^2 for simple cubic) at rho = 0.01 and 0.15 for both
beam theories, beside the slender-strut limits: simple cubic C11 = rho/3 (exact), C44 = rho^2/(6 pi)
(exact for Euler-Bernoulli); BCC C11 = C12 = C44 -> rho/9; octet C11 -> rho/6, C12 = C44 -> rho/12.
"""
import numpy as np

from pipeline_lib.truss3d import homogenize
from pipeline_lib.truss3d.generation import ELEMENTARY

LIMITS = {"sc": (1 / 3, 0.0, 1 / (6 * np.pi)), "bcc": (1 / 9, 1 / 9, 1 / 9), "octet": (1 / 6, 1 / 12, 1 / 12)}


def main() -> None:
    print(f"{'lattice':<7} {'rho':>5} {'beam':<16} {'C11/rho':>9} {'C12/rho':>9} {'C44/rho':>9} {'C44/rho^2':>10}")
    for name, (c11, c12, c44) in LIMITS.items():
        lim44 = f"{c44:10.5f}" if name == "sc" else f"{'':10}"
        lim44r = f"{'':9}" if name == "sc" else f"{c44:9.5f}"
        print(f"{name:<7} {'->0':>5} {'limit':<16} {c11:9.5f} {c12:9.5f} {lim44r} {lim44}")
        for rho in (0.01, 0.15):
            for beam in ("euler-bernoulli", "timoshenko"):
                C = homogenize(ELEMENTARY[name], np.zeros((27, 3)), relative_density=rho, beam=beam)
                print(f"{name:<7} {rho:5.2f} {beam:<16} {C[0, 0] / rho:9.5f} {C[0, 1] / rho:9.5f} "
                      f"{C[3, 3] / rho:9.5f} {C[3, 3] / rho**2:10.5f}")


if __name__ == "__main__":
    main()
