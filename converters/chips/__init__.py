"""Chip definitions: each chip's network records, arithmetic constants and pure reference functions.

Record fields declare their ranges (:mod:`.fields`); one walk of a record tree
(:mod:`.tree`) serves network files (:mod:`.files`, checked by :mod:`.checks`) and digests.
"""

from . import akida, loihi

__all__ = ["akida", "loihi"]
