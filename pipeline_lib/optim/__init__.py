"""Optimizers shared by the design stages."""
