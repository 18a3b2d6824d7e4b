"""The error of a file that is not a readable neuroemu trace file."""

__all__ = ["TraceFormatError"]


class TraceFormatError(ValueError):
    """A file is not a neuroemu trace file, or one this version cannot read."""
