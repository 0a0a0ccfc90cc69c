"""The one exception type users see: a setup problem with a message that names the fix.

The CLI turns an EvalkitError into one red line and exit code 2. Per-sample trouble (a timeout while grading,
a crash of a generated program) is never an EvalkitError: it becomes a Verdict status.
"""


class EvalkitError(Exception):
    """A setup error (bad flag, unknown benchmark, missing extra, unreadable data) with a one-line fix."""
