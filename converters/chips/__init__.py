"""Chip definitions: each chip's network records, arithmetic constants and pure reference functions."""

from . import akida, loihi

__all__ = ["akida", "loihi"]
