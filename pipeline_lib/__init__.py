"""metagen: metamaterial databases, homogenization, generative models and design."""
__version__ = "0.1.0"
