"""Reasoning controllers: how budgets (budget.py) and offload (offload.py) drive engines."""
