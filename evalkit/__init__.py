"""evalkit: benchmark reasoning language models under token budgets."""

__version__ = "0.1.0"
