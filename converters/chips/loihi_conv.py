"""A convolutional projection of a LoihiNet as a record: kernel mantissas and geometry.

The synapses of a convolution are never stored: source neuron ``(c, y, x)`` of a layer of
shape ``source_shape`` belongs to pooled cell ``(c, y // PY, x // PX)`` of the grid
``in_shape`` (non-overlapping average pooling, ``pool = (PY, PX)``; ``(1, 1)`` without),
and cell ``(c, r, q)`` reaches target ``(o, oy, ox)`` with mantissa ``K[o, c', j, i]``
where, for ``c`` in the group of ``o`` (``c' = c mod C/groups``)::

    r = oy * SY - PT + j * DY,    q = ox * SX - PL + i * DX

Zero mantissas make no synapse. :meth:`LoihiConv.synapses` lists the explicit synapses
(for devices that need them), which deliver exactly what the record describes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .fields import INDEX_MAX, check_ranges, ints
from .loihi import WEIGHT_EXP_RANGE, WEIGHT_MANT_RANGE, effective_weights

__all__ = ["LoihiConv", "reach"]


def reach(n_out: int, n_in: int, k: int, s: int, p: int, d: int) -> np.ndarray:
    """[n_out, k] bool: output row ``o`` reads input row ``o * s - p + j * d`` inside 0..n_in-1."""
    rows = np.arange(n_out)[:, None] * s - p + np.arange(k)[None, :] * d
    return (rows >= 0) & (rows < n_in)


def _reached_by(n_in: int, n_out: int, k: int, s: int, p: int, d: int) -> np.ndarray:
    """[n_in, k] bool: input row ``r`` reaches an output row through kernel offset ``j``."""
    t = np.arange(n_in)[:, None] + p - np.arange(k)[None, :] * d
    return (t >= 0) & (t % s == 0) & (t // s < n_out)


@dataclass
class LoihiConv:
    """Synapses from one layer into another as a 2-d convolution (see the module)."""

    source: str
    kernel_mant: np.ndarray = ints(*WEIGHT_MANT_RANGE)  # [O, C / groups, KH, KW] int16
    weight_exp: int = ints(*WEIGHT_EXP_RANGE)
    source_shape: tuple[int, int, int] = ints(0, INDEX_MAX)  # C, H, W of the source layer
    out_shape: tuple[int, int, int] = ints(0, INDEX_MAX)  # O, OH, OW: the target layer's shape
    stride: tuple[int, int] = ints(1, INDEX_MAX, default=(1, 1))
    padding: tuple[int, int] = ints(0, INDEX_MAX, default=(0, 0))  # top, left
    dilation: tuple[int, int] = ints(1, INDEX_MAX, default=(1, 1))
    groups: int = ints(1, INDEX_MAX, default=1)
    pool: tuple[int, int] = ints(1, INDEX_MAX, default=(1, 1))

    def __post_init__(self) -> None:
        self.kernel_mant = np.asarray(self.kernel_mant, dtype=np.int16)
        for name in ("source_shape", "out_shape", "stride", "padding", "dilation", "pool"):
            setattr(self, name, tuple(int(v) for v in getattr(self, name)))
        self.groups = int(self.groups)
        check_ranges(self)
        if self.kernel_mant.ndim != 4 or self.kernel_mant.shape[0] != self.out_shape[0]:
            raise ValueError(
                f"kernel_mant must have shape (O={self.out_shape[0]}, C/groups, KH, KW), "
                f"got {self.kernel_mant.shape}"
            )
        c = self.source_shape[0]
        if c % self.groups or self.out_shape[0] % self.groups:
            raise ValueError(f"groups = {self.groups} must divide C = {c} and O")
        if self.kernel_mant.shape[1] * self.groups != c:
            raise ValueError(
                f"kernel_mant has {self.kernel_mant.shape[1]} input channels per group, "
                f"the source has {c} channels in {self.groups} groups"
            )

    # --- sizes and shapes ---------------------------------------------------------

    @property
    def in_shape(self) -> tuple[int, int, int]:
        """The pooled grid the kernel slides over: (C, H // PY, W // PX)."""
        c, h, w = self.source_shape
        return c, h // self.pool[0], w // self.pool[1]

    @property
    def pool_area(self) -> int:
        return self.pool[0] * self.pool[1]

    @property
    def source_size(self) -> int:
        return int(np.prod(self.source_shape))

    @property
    def target_size(self) -> int:
        return int(np.prod(self.out_shape))

    def validate(self, source_size: int | None, target_size: int, where: str) -> None:
        """Raise ValueError unless the record fits a source and a target of these sizes."""
        if self.target_size != target_size:
            raise ValueError(
                f"{where}: the convolution's output {self.out_shape} has {self.target_size} "
                f"neurons, the layer {target_size}"
            )
        if source_size is not None and self.source_size != source_size:
            raise ValueError(
                f"{where}: the convolution reads {self.source_shape} ({self.source_size} "
                f"neurons), the source has {source_size}"
            )

    # --- weights ------------------------------------------------------------------

    def kernel_eff(self) -> np.ndarray:
        """Effective integer kernel [O, C / groups, KH, KW], floored where 6 + w_exp < 0."""
        return effective_weights(self.kernel_mant, self.weight_exp)

    def unpooled(self) -> tuple[np.ndarray, tuple[int, int], tuple[int, int]]:
        """The record as a convolution over its source layer's own grid: (effective kernel
        [O, C / groups, KH', KW'], stride, padding (top, left)).

        Pooling cells (PY, PX) and dilation (DY, DX) fold in: kernel row ``j * DY * PY + a``
        holds ``K[j]`` for every member row ``a < PY`` of a cell, zeros between; stride
        ``SY * PY``, padding ``PT * PY`` (columns alike). Source rows and columns beyond the
        pooled cells have no synapses; this kernel would reach them where the bottom or
        right padding of the pooled grid is positive.
        """
        k = self.kernel_eff()
        o, cin, kh, kw = k.shape
        (py, px), (dy, dx) = self.pool, self.dilation
        full = np.zeros((o, cin, (kh - 1) * dy * py + py, (kw - 1) * dx * px + px), np.int64)
        rows = (np.arange(kh)[:, None] * dy * py + np.arange(py)[None, :]).ravel()
        cols = (np.arange(kw)[:, None] * dx * px + np.arange(px)[None, :]).ravel()
        full[:, :, rows[:, None], cols[None, :]] = k.repeat(py, axis=2).repeat(px, axis=3)
        stride = (self.stride[0] * py, self.stride[1] * px)
        return full, stride, (self.padding[0] * py, self.padding[1] * px)

    def _reach(self) -> tuple[np.ndarray, np.ndarray]:
        """[OH, KH] and [OW, KW]: which kernel offsets of each output row/column land inside."""
        (_, h, w), (_, oh, ow) = self.in_shape, self.out_shape
        kh, kw = self.kernel_mant.shape[2:]
        return (
            reach(oh, h, kh, self.stride[0], self.padding[0], self.dilation[0]),
            reach(ow, w, kw, self.stride[1], self.padding[1], self.dilation[1]),
        )

    def fan_in(self, target_size: int | None = None) -> np.ndarray:
        """Synapses into every target neuron [O * OH * OW] (the record knows its size;
        ``target_size`` keeps the interface of :class:`~converters.chips.loihi.LoihiProjection`)."""
        rows, cols = self._reach()
        per_offset = np.count_nonzero(self.kernel_mant, axis=1)  # [O, KH, KW]
        fan = np.einsum("oab,ya,xb->oyx", per_offset, rows, cols, dtype=np.int64)
        return fan.ravel() * self.pool_area

    def fan_out(self, source_size: int | None = None) -> np.ndarray:
        """Synapses out of every source neuron [C * H * W] (``source_size`` as in :meth:`fan_in`)."""
        (c, h, w), (o, oh, ow) = self.in_shape, self.out_shape
        kh, kw = self.kernel_mant.shape[2:]
        (sy, sx), (py, px), (dy, dx) = self.stride, self.padding, self.dilation
        rows = _reached_by(h, oh, kh, sy, py, dy)
        cols = _reached_by(w, ow, kw, sx, px, dx)
        nz = self.kernel_mant != 0  # [O, C/g, KH, KW]
        g = self.groups
        per_channel = nz.reshape(g, o // g, c // g, kh, kw).sum(axis=1).reshape(c, kh, kw)
        pooled = np.einsum("cab,ya,xb->cyx", per_channel, rows, cols, dtype=np.int64)
        fan = np.zeros(self.source_shape, np.int64)
        ry, rx = self.pool
        fan[:, : h * ry, : w * rx] = pooled.repeat(ry, axis=1).repeat(rx, axis=2)
        return fan.ravel()

    def fan_out_to(self, targets: np.ndarray) -> np.ndarray:
        """Synapses out of every source neuron [C * H * W] into the targets of a boolean mask
        [O * OH * OW]: a transposed convolution over the channels and rows the mask holds."""
        (c, h, w), (o, oh, ow) = self.in_shape, self.out_shape
        kh, kw = self.kernel_mant.shape[2:]
        (sy, sx), (py, px), (dy, dx) = self.stride, self.padding, self.dilation
        mask = np.asarray(targets, bool).reshape(o, oh, ow)
        cg, og = c // self.groups, o // self.groups
        height, width = (oh - 1) * sy + (kh - 1) * dy + 1, (ow - 1) * sx + (kw - 1) * dx + 1
        canvas = np.zeros((c, max(height, py + h), max(width, px + w)), np.int64)
        for out in np.flatnonzero(mask.any(axis=(1, 2))):
            rows = np.flatnonzero(mask[out].any(axis=1))
            y0, y1 = rows[0], rows[-1] + 1
            m = mask[out, y0:y1].astype(np.int64)  # [rows, OW]
            nz = (self.kernel_mant[out] != 0).astype(np.int64)  # [C/g, KH, KW]
            first = out // og * cg
            for j in range(kh):
                top = y0 * sy + j * dy
                for i in range(kw):
                    canvas[
                        first : first + cg,
                        top : top + (y1 - y0 - 1) * sy + 1 : sy,
                        i * dx : i * dx + (ow - 1) * sx + 1 : sx,
                    ] += nz[:, j, i, None, None] * m[None]
        pooled = canvas[:, py : py + h, px : px + w]
        fan = np.zeros(self.source_shape, np.int64)
        ry, rx = self.pool
        fan[:, : h * ry, : w * rx] = pooled.repeat(ry, axis=1).repeat(rx, axis=2)
        return fan.ravel()

    @property
    def n_synapses(self) -> int:
        return int(self.fan_in().sum())

    # --- explicit synapses ----------------------------------------------------------

    def synapses(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(pre, post, weight_mant) of every synapse the record describes."""
        (_, h, w), (o, oh, ow) = self.in_shape, self.out_shape
        _, cin, kh, kw = self.kernel_mant.shape
        (sy, sx), (py, px), (dy, dx) = self.stride, self.padding, self.dilation
        rows, cols = self._reach()
        out_group = o // self.groups
        pres, posts, mants = [], [], []
        for j in range(kh):
            for i in range(kw):
                oy, ox = np.flatnonzero(rows[:, j]), np.flatnonzero(cols[:, i])
                oo, cc = np.nonzero(self.kernel_mant[:, :, j, i])
                if not (len(oy) and len(ox) and len(oo)):
                    continue
                channel = oo // out_group * cin + cc
                r = oy * sy - py + j * dy
                q = ox * sx - px + i * dx
                pre = (channel[:, None, None] * h + r[None, :, None]) * w + q[None, None, :]
                post = (oo[:, None, None] * oh + oy[None, :, None]) * ow + ox[None, None, :]
                pres.append(pre.ravel())
                posts.append(post.ravel())
                mants.append(np.repeat(self.kernel_mant[oo, cc, j, i], len(oy) * len(ox)))
        pre = np.concatenate(pres) if pres else np.zeros(0, np.int64)
        post = np.concatenate(posts) if posts else np.zeros(0, np.int64)
        mant = np.concatenate(mants) if mants else np.zeros(0, np.int16)
        if self.pool != (1, 1):
            pre, post, mant = self._unpooled(pre, post, mant)
        return pre.astype(np.int32), post.astype(np.int32), mant.astype(np.int16)

    def _unpooled(self, pre, post, mant) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every pooled synapse once per member of its cell, in source coordinates."""
        (_, h, w), (_, sh, sw), (ry, rx) = self.in_shape, self.source_shape, self.pool
        ch, r, q = pre // (h * w), pre // w % h, pre % w
        a, b = np.divmod(np.arange(self.pool_area), rx)
        y = r[:, None] * ry + a[None, :]
        x = q[:, None] * rx + b[None, :]
        source = (ch[:, None] * sh + y) * sw + x
        return source.ravel(), np.repeat(post, self.pool_area), np.repeat(mant, self.pool_area)

    @property
    def pre(self) -> np.ndarray:
        return self.synapses()[0]

    @property
    def post(self) -> np.ndarray:
        return self.synapses()[1]

    @property
    def weight_mant(self) -> np.ndarray:
        return self.synapses()[2]

    @property
    def weight_eff(self) -> np.ndarray:
        """Effective weights of :meth:`synapses`, in its order."""
        return effective_weights(self.weight_mant, self.weight_exp)
