"""Pictures: matplotlib plots of property spaces and galleries (pyvista renders for 3D chains)."""
