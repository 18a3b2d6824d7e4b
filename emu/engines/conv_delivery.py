"""Kernel-driven delivery of convolutional projections in the C++ of a ``cpp_standalone`` build.

A spike of a source of a convolutional projection (:mod:`emu.engines.conv_geometry`) adds its kernel
slice to the targets its position reaches: for every kernel offset (ky, kx) of the source's
stride phase with its target row and column in bounds, and every output channel o::

    inp[o, (y + PY - ky) / SY, (x + PX - kx) / SX] += m * K[c, ky, kx, o]

the same integers the explicit synapses add, in the ``synapses`` slot of the spike's step,
so the next step consumes them. Sources with identical rows (pooling windows, found per
projection by :func:`emu.engines.fanout.share_fanout`) count into one emitter placed at its first
member, which delivers once with ``m`` its members' spikes; other sources are emitters of
their own (``m = 1``). The geometry tables are static arrays of the build; the kernels are
the variable ``w`` of the group ``conv_kernels``, set at run time like every weight.
"""

from __future__ import annotations

from dataclasses import dataclass

import brian2
import numpy as np

from converters.chips.loihi_conv import LoihiConv

from .conv_geometry import MAX_VISITS_PER_SYNAPSE, ConvGeometry, conv_kernel
from .fanout import share_fanout

__all__ = ["ConvProjection", "ConvDelivery", "conv_projection", "from_record", "finds_convolutions"]

KERNEL_DTYPE = np.int32  # effective weights are at most 2**21 in magnitude
GEOMETRY_FIELDS = 16  # int32 entries per projection in the geometry table

# the kernel slice of one emitter, m times; g: the projection's row of the geometry table
EMIT_CODE = """
static inline void _conv_emit(const int32_t* g, const int32_t* kernel, int64_t* inp,
                              const int32_t* e, const int64_t m)
{
    const int KH = g[6], KW = g[7], SY = g[8], SX = g[9], O = g[3], OH = g[4], OW = g[5];
    const int ty = e[2] + g[10], tx = e[3] + g[11], plane = OH * OW;
    int ky_lo = ty % SY, kx_lo = tx % SX;
    const int ky_min = ty - SY * (OH - 1), kx_min = tx - SX * (OW - 1);
    if (ky_min > ky_lo) ky_lo += (ky_min - ky_lo + SY - 1) / SY * SY;
    if (kx_min > kx_lo) kx_lo += (kx_min - kx_lo + SX - 1) / SX * SX;
    const int ky_hi = ty < KH - 1 ? ty : KH - 1, kx_hi = tx < KW - 1 ? tx : KW - 1;
    const int32_t* k = kernel + g[13] + (size_t)e[1] * KH * KW * O;
    int64_t* out = inp + g[12];
    for (int ky = ky_lo; ky <= ky_hi; ky += SY) {
        int64_t* row = out + (ty - ky) / SY * OW;
        for (int kx = kx_lo; kx <= kx_hi; kx += SX) {
            int64_t* dst = row + (tx - kx) / SX;
            const int32_t* kk = k + (ky * KW + kx) * O;
            for (int o = 0; o < O; o++) dst[o * plane] += m * kk[o];
        }
    }
}
"""

# count the spikes of one group into its sources' emitters
GATHER_CODE = """
    {{
        const int32_t* space = brian::{spikespace};
        const int n = brian::_num_{spikespace} - 1, n_spikes = space[n];
        for (int s = 0; s < n_spikes; s++) {{
            const int source = {offset} + space[s];
            for (int k = _namespace_conv_source_ptr[source]; k < _namespace_conv_source_ptr[source + 1]; k++) {{
                const int em = _namespace_conv_source_emitter[k];
                if (_conv_count[em]++ == 0) _conv_active[n_active++] = em;
            }}
        }}
        total += n_spikes;
    }}
"""

DELIVER_CODE = """
static std::vector<int32_t> _conv_count, _conv_active;
static int32_t conv_deliver(const int32_t)
{{
    const int n_emitters = _namespace_conv_meta[0];
    if ((int)_conv_count.size() != n_emitters) {{
        _conv_count.assign(n_emitters, 0);
        _conv_active.assign(n_emitters, 0);
    }}
    int n_active = 0, total = 0;
{gathers}
    const int32_t* kernel = brian::{kernel};
    int64_t* inp = brian::{inp};
    for (int a = 0; a < n_active; a++) {{
        const int em = _conv_active[a];
        const int32_t* e = _namespace_conv_emitters + 4 * em;
        _conv_emit(_namespace_conv_geometry + {fields} * e[0], kernel, inp, e, _conv_count[em]);
        _conv_count[em] = 0;
    }}
    return total;
}}
"""


@dataclass(frozen=True)
class ConvProjection:
    """A projection delivered by its kernel: geometry, layer offsets, kernel, pooled sources.

    Offsets are global neuron indices (all layers at consecutive offsets); source
    ``members[k]`` (local index) counts into pooled emitter ``cells[k]``; sources without
    synapses have no emitter.
    """

    geometry: ConvGeometry
    source_offset: int
    target_offset: int
    kernel: np.ndarray  # [C, KH, KW, O] int64 effective weights
    sources: np.ndarray  # [S] int64, the local sources with synapses
    members: np.ndarray  # [M] int64
    cells: np.ndarray  # [M] int64


def finds_convolutions(layers) -> bool:
    """Whether explicit projections of ``layers`` are worth searching for convolutions: only
    in networks without convolution records (files written before records, hand-built
    networks); where conversion wrote records, explicit synapses are irregular."""
    return not any(isinstance(p, LoihiConv) for layer in layers for p in layer.projections)


def conv_projection(
    projection,
    in_shape: tuple,
    out_shape: tuple,
    source_offset: int,
    target_offset: int,
    search: bool = True,
) -> ConvProjection | None:
    """The kernel-driven form of a projection: read from a
    :class:`~converters.chips.loihi_conv.LoihiConv` record (:func:`from_record`), else, with
    ``search``, found from the synapses of a :class:`~converters.chips.loihi.LoihiProjection`
    if they are a convolution between (C, H, W) layers."""
    if isinstance(projection, LoihiConv):
        return from_record(projection, source_offset, target_offset)
    if not search or len(in_shape) != 3 or len(out_shape) != 3:
        return None
    pre, post = projection.pre.astype(np.int64), projection.post.astype(np.int64)
    weight = projection.weight_eff.astype(np.int64)
    found = conv_kernel(pre, post, weight, in_shape, out_shape)
    if found is None:
        return None
    order = np.lexsort((post, pre))
    fan = share_fanout(pre[order], post[order], weight[order])
    return ConvProjection(
        found[0], source_offset, target_offset, found[1], np.unique(pre), fan.members, fan.cells
    )


def from_record(record: LoihiConv, source_offset: int, target_offset: int) -> ConvProjection | None:
    """A record as a convolution over its source layer's own grid, or None where that would
    visit far more kernel entries than the record has (grouped convolutions beyond
    ``MAX_VISITS_PER_SYNAPSE`` groups), where explicit synapses are cheaper.

    Pooling cells and dilation fold into the geometry
    (:meth:`~converters.chips.loihi_conv.LoihiConv.unpooled`), groups into zeros between
    the channels of different groups; pooled sources deliver once per cell, at its first
    member, and sources beyond the cells have no emitter.
    """
    if record.groups > MAX_VISITS_PER_SYNAPSE:
        return None
    (c, h, w), out, (py, px) = record.in_shape, record.out_shape, record.pool
    kernel, stride, padding = record.unpooled()
    o, cin = kernel.shape[:2]
    full = np.zeros((c, *kernel.shape[2:], o), np.int64)  # groups as zero blocks
    per_group = o // record.groups
    for g in range(record.groups):
        part = kernel[g * per_group : (g + 1) * per_group].transpose(1, 2, 3, 0)
        full[g * cin : (g + 1) * cin, :, :, g * per_group : (g + 1) * per_group] = part
    geometry = ConvGeometry(record.source_shape, out, kernel.shape[2:], stride, padding)
    _, sh, sw = record.source_shape
    inside = np.zeros(record.source_shape, bool)
    inside[:, : h * py, : w * px] = True
    sources = np.flatnonzero(inside)
    members = sources if record.pool != (1, 1) else np.zeros(0, np.int64)
    cells = (
        (members // (sh * sw) * h + members // sw % sh // py) * w + members % sw // px
        if len(members)
        else members
    )
    return ConvProjection(
        geometry, source_offset, target_offset, full, sources, members, cells.astype(np.int64)
    )


class ConvDelivery:
    """The tables, kernels and Brian2 objects of all kernel-driven projections of a network.

    ``n_sources`` counts every neuron (global indices); ``first_compartment`` is the global
    index of the compartment group's first neuron (input generators come before it).
    """

    def __init__(
        self,
        projections: dict[tuple[int, int], ConvProjection],
        n_sources: int,
        first_compartment: int,
    ):
        self.projections = projections  # by (target layer, projection) index
        self.first_compartment = first_compartment
        self.tables = self._tables(n_sources)

    def _tables(self, n_sources: int) -> dict[str, np.ndarray]:
        """Static int32 arrays: geometry per projection, emitters, source -> emitters."""
        geometry = np.zeros((len(self.projections), GEOMETRY_FIELDS), np.int64)
        emitters, sources, targets = [], [], []
        kernel_offset = 0
        for k, p in enumerate(self.projections.values()):
            g = p.geometry
            geometry[k, :12] = [*g.in_shape, *g.out_shape, *g.kernel, *g.stride, *g.padding]
            geometry[k, 12] = p.target_offset - self.first_compartment
            geometry[k, 13] = kernel_offset
            kernel_offset += g.kernel_size
            local, emitter = _emitters_of(p)
            c_hw, w = g.in_shape[1] * g.in_shape[2], g.in_shape[2]
            base = sum(len(e) for e in emitters)
            emitters.append(
                np.stack(
                    [np.full(len(local), k), local // c_hw, local // w % g.in_shape[1], local % w],
                    1,
                )
            )
            sources.append(p.source_offset + p.sources)
            targets.append(base + emitter[p.sources])
        source, emitter = np.concatenate(sources), np.concatenate(targets)
        order = np.argsort(source, kind="stable")
        ptr = np.zeros(n_sources + 1, np.int64)
        np.add.at(ptr, source + 1, 1)
        all_emitters = np.concatenate(emitters)
        return {
            "_conv_meta": np.array([len(all_emitters)]),
            "_conv_geometry": geometry.ravel(),
            "_conv_emitters": all_emitters.ravel(),
            "_conv_source_ptr": np.cumsum(ptr),
            "_conv_source_emitter": emitter[order],
        }

    def kernel_weights(self) -> np.ndarray:
        """Every projection's kernel, flat and in the order of the geometry table."""
        return np.concatenate([p.kernel.ravel() for p in self.projections.values()]).astype(
            KERNEL_DTYPE
        )

    def objects(self, groups: list, clock: brian2.Clock) -> list:
        """The kernel group (``conv_kernels.w``) and the one-neuron group that delivers.

        ``groups`` are the spiking groups in global index order, the compartments last.
        """
        kernels = brian2.NeuronGroup(
            len(self.kernel_weights()),
            "w : integer (constant)",
            dtype={"w": KERNEL_DTYPE},
            clock=clock,
            name="conv_kernels",
        )
        caller = brian2.NeuronGroup(
            1,
            "delivered : integer",
            namespace={"conv_deliver": self._function(groups, kernels)},
            clock=clock,
            name="conv_delivery",
        )
        caller.run_regularly(
            "delivered = conv_deliver(i)", when="synapses", name="conv_delivery_run"
        )
        return [kernels, caller]

    def _function(self, groups: list, kernels: brian2.NeuronGroup) -> brian2.Function:
        """The C++ function that delivers one step's spikes (standalone only)."""
        device = brian2.get_device()
        gathers = "".join(
            GATHER_CODE.format(
                spikespace=device.get_array_name(g.variables["_spikespace"]),
                offset=0 if g is not groups[-1] else self.first_compartment,
            )
            for g in groups
        )
        code = EMIT_CODE + DELIVER_CODE.format(
            gathers=gathers,
            kernel=device.get_array_name(kernels.variables["w"]),
            inp=device.get_array_name(groups[-1].variables["inp"]),
            fields=GEOMETRY_FIELDS,
        )
        function = brian2.Function(
            None,
            arg_units=[1],
            return_unit=1,
            arg_types=["integer"],
            return_type="integer",
            stateless=False,
        )
        namespace = {name: values.astype(np.int32) for name, values in self.tables.items()}
        function.implementations.add_implementation(
            "cpp", {"support_code": code}, namespace=namespace, name="conv_deliver"
        )
        return function


def _emitters_of(p: ConvProjection) -> tuple[np.ndarray, np.ndarray]:
    """(local position of each emitter, emitter of each source neuron) of one projection.

    A pooled emitter sits at its first member; every other source with synapses is an
    emitter of its own.
    """
    n = int(np.prod(p.geometry.in_shape))
    cell_of = np.full(n, -1)
    cell_of[p.sources] = n
    cell_of[p.members] = p.cells
    alone = np.flatnonzero(cell_of == n)
    n_cells = int(p.cells.max()) + 1 if len(p.cells) else 0
    first = np.full(n_cells, n)
    np.minimum.at(first, p.cells, p.members)
    emitter = np.full(n, -1, np.int64)
    emitter[alone] = np.arange(len(alone))
    emitter[p.members] = len(alone) + p.cells
    return np.concatenate([alone, first]), emitter
