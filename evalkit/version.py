"""The package version, in a module of its own: run.json records it, and modules below the API import it
without importing the package `__init__` (which reaches up to the API)."""

__version__ = "0.1.0"
