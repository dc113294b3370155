"""Finite-element pieces shared by the chains: element matrices and grid solvers."""
