"""Grading: math answers (math.py), programs (code.py + sandbox.py), all outside the evalkit process."""
