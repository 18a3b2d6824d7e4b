"""Brian2 code generation of Akida (v1) integrate-then-fire layers, exact to the engine's integers.

Every non-zero activation is a spike carrying its value: ``p_post += w * out_pre``. A frame
(one sample) takes one 1 ms step per stage: step 0 loads the input and clears every
potential; stage k reads the potentials its inputs delivered during step k-1, applies the
activation of :mod:`converters.chips.akida` and fires its non-zero outputs. A pooled
convolution is two stages: its raw potentials all fire into the pooled group, which keeps
the maximum (``pmax_post = max(pmax_post, p_pre)``, padded cells never exist) or the
saturating sum in row-major order (global average pooling). A separable layer is one set
of synapses with the depthwise-times-pointwise kernel (exact in integers); the input
convolution's padded cells start each potential at its constant ``b``. Samples run back
to back.
"""

from __future__ import annotations

from dataclasses import dataclass

import brian2
import numpy as np

from converters.chips.akida import (
    POTENTIAL_MAX,
    POTENTIAL_MIN,
    AkidaLayer,
    AkidaNet,
    correlation_kernel,
    pad_before,
)
from converters.chips.tree import array_digest

from ..traces.records import BatchRecord
from .akida_engine import AkidaEngine
from .brian2_engine import Brian2Engine
from .settings import RunSettings
from .standalone import StableClock

__all__ = [
    "AkidaBackend",
    "connections",
    "padding_bias",
    "conv_taps",
    "kernel_connections",
    "pool_connections",
]

EMPTY = -(2**40)  # start of a max-pooling accumulator, below every potential

STAGE_MODEL = """
p : integer
pc : integer
out : integer
th : integer
s : integer
top : integer
sat : integer
b : integer
"""
INT64 = {v: np.int64 for v in ("p", "pc", "out", "th", "s", "top", "sat", "b")}


def _activation(act_bits: int | None) -> str:
    """Code computing ``out`` from the (clipped) potential ``pc``.

    ``ceil(16 (pc - th) / s)`` clipped to [0, top] serves every width: with top = 1 it is
    ``pc > th`` (1 bit) whatever ``s`` is.
    """
    if act_bits is None:
        return "out = pc"
    return "out = int(clip(-((16 * (th - pc)) // s), 0, top))"


@dataclass
class _Stage:
    """One Brian2 group: a layer's output, or the raw potentials of a pooled convolution."""

    name: str  # Brian2 object name
    size: int
    step: int  # frame step at which it computes and fires
    code: str  # compute code at that step (groups slot)
    fires_all: bool  # raw pooled potentials fire whatever their value
    layer: AkidaLayer | None


def conv_taps(
    input_hw: tuple[int, int], kernel: tuple[int, int], out_hw: tuple[int, int],
    stride: tuple[int, int], padding: str,
) -> tuple[np.ndarray, ...]:  # fmt: skip
    """Every (output row, output column, kernel row, kernel column, input row, input column)
    of a convolution, padded cells included."""
    (h, w), (kh, kw), (ho, wo) = input_hw, kernel, out_hw
    top = pad_before(padding, h, kh, stride[0])
    left = pad_before(padding, w, kw, stride[1])
    oh, ow, di, dj = np.meshgrid(np.arange(ho), np.arange(wo), np.arange(kh), np.arange(kw),
                                 indexing="ij")  # fmt: skip
    hi, wi = oh * stride[0] - top + di, ow * stride[1] - left + dj
    return tuple(a.reshape(-1) for a in (oh, ow, di, dj, hi, wi))


def _taps(layer: AkidaLayer) -> tuple[np.ndarray, ...]:
    return conv_taps(layer.input_shape[:2], layer.weights.shape[:2], layer.conv_shape[:2],
                     layer.stride, layer.padding)  # fmt: skip


def kernel_connections(
    input_shape: tuple[int, int, int], kernel: np.ndarray, out_w: int, taps: tuple
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Synapses (pre, post, weight) of a cross-correlation with ``kernel`` (kh, kw, C, F) over
    its ``taps`` (:func:`conv_taps`): inputs flattened (h, w, c), outputs (h, w, f), sorted."""
    h, w, c = input_shape
    f = kernel.shape[3]
    oh, ow, di, dj, hi, wi = taps
    inside = (hi >= 0) & (hi < h) & (wi >= 0) & (wi < w)
    oh, ow, di, dj, hi, wi = (a[inside] for a in (oh, ow, di, dj, hi, wi))
    cc, ff = np.meshgrid(np.arange(c), np.arange(f), indexing="ij")
    pre = ((hi * w + wi) * c)[:, None, None] + cc[None]
    post = ((oh * out_w + ow) * f)[:, None, None] + ff[None]
    weight = kernel[di, dj]  # (taps, c, f)
    pre, post, weight = (np.broadcast_to(a, weight.shape).reshape(-1) for a in (pre, post, weight))
    order = np.lexsort((post, pre))
    return pre[order], post[order], weight[order].astype(np.int64)


def connections(layer: AkidaLayer) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Synapses (pre, post, weight) of a layer: inputs flattened (h, w, c), outputs (h, w, f).

    Zero weights are kept, so the synapses depend on the layer's shapes only and one
    compiled binary serves every weight draw. Convolutions give the raw (unpooled) potentials.
    """
    h, w, c = layer.input_shape
    if layer.kind == "dense":
        rows = np.arange(h * w * c).reshape(c, w, h).transpose(2, 1, 0).reshape(-1)  # pre -> row
        pre, post = np.divmod(np.arange(h * w * c * layer.filters), layer.filters)
        return pre, post, layer.weights[rows].reshape(-1).astype(np.int64)
    return kernel_connections(
        layer.input_shape, correlation_kernel(layer), layer.conv_shape[1], _taps(layer)
    )


def padding_bias(layer: AkidaLayer) -> np.ndarray:
    """Per raw potential (h, w, f flattened): what the padded cells (``padding_value``) add."""
    size = int(np.prod(layer.conv_shape))
    if layer.kind == "dense" or layer.padding_value == 0:
        return np.zeros(size, np.int64)
    h, w, _ = layer.input_shape
    kernel = correlation_kernel(layer).sum(axis=2)  # (kh, kw, f): every channel is padded
    oh, ow, di, dj, hi, wi = _taps(layer)
    outside = (hi < 0) | (hi >= h) | (wi < 0) | (wi >= w)
    bias = np.zeros(layer.conv_shape, np.int64)
    np.add.at(bias, (oh[outside], ow[outside]), kernel[di[outside], dj[outside]])
    return bias.reshape(-1) * layer.padding_value


def _pool_connections(layer: AkidaLayer) -> list[tuple[np.ndarray, np.ndarray]]:
    return pool_connections(layer.conv_shape, layer.output_shape, layer.pool, layer.pool_size,
                            layer.pool_stride, layer.padding)  # fmt: skip


def pool_connections(
    conv_shape: tuple[int, int, int], output_shape: tuple[int, int, int], pool: str,
    size: tuple[int, int], stride: tuple[int, int], padding: str,
) -> list[tuple[np.ndarray, np.ndarray]]:  # fmt: skip
    """(pre, post) from raw potentials (h, w, f) to pooled outputs.

    Global average pooling: one set, pre in row-major order (the order of the saturating
    sum). Max pooling: one set per window offset, so no set reaches a neuron twice and
    the numpy target can vectorise each.
    """
    h, w, f = conv_shape
    if pool == "global_avg":
        pre = np.arange(h * w * f)
        return [(pre, pre % f)]
    (ph, pw), (sh, sw) = size, stride
    top, left = pad_before(padding, h, ph, sh), pad_before(padding, w, pw, sw)
    ho, wo, _ = output_shape
    oh, ow, ff = np.meshgrid(np.arange(ho), np.arange(wo), np.arange(f), indexing="ij")
    sets = []
    for di in range(ph):
        for dj in range(pw):
            hi, wi = oh * sh - top + di, ow * sw - left + dj
            inside = (hi >= 0) & (hi < h) & (wi >= 0) & (wi < w)
            if inside.any():
                sets.append((((hi * w + wi) * f + ff)[inside], ((oh * wo + ow) * f + ff)[inside]))
    return sets


class AkidaBackend(AkidaEngine, Brian2Engine):
    """Runs batches of samples of an AkidaNet on a Brian2 device (``settings.device``).

    Standalone builds are compiled once per topology and build settings; ``runtime`` uses
    Brian2's numpy target. ``settings.record_events`` keeps the sparse events (sample, 0,
    layer, neuron); ``settings.probe`` keeps the listed neurons' potentials as
    ``"<layer>.potential"``; the seed is unused (Akida inputs are deterministic).
    """

    target = "akida"
    stage_model = STAGE_MODEL
    stage_dtypes = INT64

    def __init__(self, net: AkidaNet, settings: RunSettings):
        super().__init__(net, settings)
        self._describe(net)
        self._make_build()

    def _describe(self, net: AkidaNet) -> None:
        self.net = net
        self.stages = self._stages()
        self.frame = self.stages[-1].step + 1
        self.synapses = self._synapses()

    def _topology(self) -> tuple:
        """Everything baked into the generated code (not weights or thresholds)."""
        return (
            self.frame,
            [(s.name, s.size, s.step, s.code, s.fires_all) for s in self.stages],
            [(name, array_digest(pre, post), on_pre)
             for name, (_, _, pre, post, _, on_pre) in self.synapses.items()],
        )  # fmt: skip

    def load(self, net: AkidaNet) -> None:
        """Take the parameters of ``net``, of the same topology, for the next runs.

        A standalone build is reused as is: weights, thresholds and steps are run arguments.
        """
        before = self._topology()
        previous = self.net
        self._describe(net)
        if self._topology() != before:
            self._describe(previous)
            raise ValueError("load needs a network of the same topology (shapes, pooling, kinds)")

    def attrs(self) -> dict:
        return super().attrs() | {"brian2_steps_per_frame": self.frame}

    # --- network description --------------------------------------------------------

    def _stages(self) -> list[_Stage]:
        stages = [_Stage("stage0", int(np.prod(self.net.input_shape)), 0, "", False, None)]
        for k, layer in enumerate(self.net.layers, start=1):
            step = stages[-1].step + 1
            if layer.pool != "none":
                raw = int(np.prod(layer.conv_shape))
                stages.append(_Stage(f"raw{k}", raw, step, "out = p", True, None))
                step += 1
            # 20-bit saturation: fully connected sums and max-pooled potentials
            clipped = layer.kind == "dense" or layer.pool == "max"
            potential = (
                f"pc = int(clip(p, {POTENTIAL_MIN}, {POTENTIAL_MAX}))\n"
                f"sat += int(pc != p) * int(frame_step == {step})"
                if clipped
                else "pc = p"
            )
            code = potential + "\n" + _activation(layer.act_bits)
            size = int(np.prod(layer.output_shape))
            stages.append(_Stage(f"stage{k}", size, step, code, False, layer))
        return stages

    def _synapses(self) -> dict[str, tuple]:
        """name -> (source stage, target stage, pre, post, weight or None, on_pre code)."""
        out: dict[str, tuple] = {}
        source = "stage0"
        for k, layer in enumerate(self.net.layers, start=1):
            pre, post, w = connections(layer)
            target = f"raw{k}" if layer.pool != "none" else f"stage{k}"
            out[f"syn{k}"] = (source, target, pre, post, w, "p_post += w * out_pre")
            if layer.pool == "max":
                for j, (pre_p, post_p) in enumerate(_pool_connections(layer)):
                    code = "p_post = p_post + int(p_pre > p_post) * (p_pre - p_post)"
                    out[f"pool{k}_{j}"] = (target, f"stage{k}", pre_p, post_p, None, code)
            elif layer.pool == "global_avg":
                ((pre_p, post_p),) = _pool_connections(layer)
                code = f"p_post = int(clip(p_post + p_pre, {POTENTIAL_MIN}, {POTENTIAL_MAX}))"
                out[f"pool{k}"] = (target, f"stage{k}", pre_p, post_p, None, code)
            source = f"stage{k}"
        return out

    # --- Brian2 objects -------------------------------------------------------------

    def _construct(self, batch: int, inputs: dict | None = None) -> tuple[list, object]:
        """Brian2 objects for ``batch`` frames back to back (inputs set later for standalone)."""
        frame_dt = self.frame * brian2.ms
        step = StableClock(brian2.ms, name="step_clock")
        per_frame = StableClock(frame_dt, name="frame_clock")
        size0 = self.stages[0].size
        placeholder = np.zeros((batch, size0)) if inputs is None else inputs["input_levels"]
        timed = {"input_levels": brian2.TimedArray(placeholder, dt=frame_dt, name="input_levels")}
        namespace = timed | {"frame": self.frame}
        objs: list = []
        groups = {}
        for stage in self.stages:
            model = self.stage_model + "frame_step = int(t / ms + 0.5) % frame : integer"
            fire = f"frame_step == {stage.step}"
            g = brian2.NeuronGroup(
                stage.size,
                model,
                threshold=fire if stage.fires_all else f"out != 0 and {fire}",
                reset=None,  # no resetter object: one C++ file less per stage
                dtype=self.stage_dtypes,
                namespace=namespace,
                clock=step,
                name=stage.name,
            )
            is_max = stage.layer is not None and stage.layer.pool == "max"
            if stage.step == 0:
                load = "out = int(input_levels(t, i))"
            else:
                load = f"p = {EMPTY}" if is_max else "p = b"
                g.run_regularly(stage.code, when="groups", name=f"{stage.name}_compute")
            g.run_regularly(load, clock=per_frame, when="start", name=f"{stage.name}_load")
            groups[stage.name] = g
            objs.append(g)
            if stage.layer is not None or stage.step == 0:
                objs.append(brian2.SpikeMonitor(g, variables=["out"], name=f"{stage.name}_events"))
            if stage.layer is not None and stage.layer.name in self.probe:
                objs.append(
                    brian2.StateMonitor(
                        g, "pc", record=self.probe[stage.layer.name], when="end",
                        name=f"{stage.name}_probe",
                    )
                )  # fmt: skip
        for name, (src, dst, pre, post, w, on_pre) in self.synapses.items():
            s = brian2.Synapses(
                groups[src],
                groups[dst],
                "w : integer (constant)" if w is not None else "",
                on_pre=on_pre,
                dtype={"w": np.int64} if w is not None else None,
                clock=step,
                name=name,
            )
            s.connect(i=pre, j=post)
            objs.append(s)
        self._objects = {o.name: o for o in objs} | timed
        self._set_parameters()
        return objs, batch * frame_dt

    def _parameters(self) -> dict[tuple[str, str], np.ndarray]:
        values: dict[tuple[str, str], np.ndarray] = {}
        for name, (_, _, _, _, w, _) in self.synapses.items():
            if w is not None:
                values[(name, "w")] = w
        for stage in self.stages:
            layer = stage.layer
            if layer is None:
                continue
            positions = stage.size // layer.filters
            values[(stage.name, "th")] = np.tile(layer.threshold.astype(np.int64), positions)
            steps = np.floor(16 * layer.act_step.astype(np.float64)).astype(np.int64)
            steps = steps << (4 - (layer.act_bits or 4))
            values[(stage.name, "s")] = np.tile(steps, positions)
            values[(stage.name, "top")] = np.full(stage.size, 2 ** (layer.act_bits or 1) - 1)
        for k, layer in enumerate(self.net.layers, start=1):
            target = f"raw{k}" if layer.pool != "none" else f"stage{k}"
            values[(target, "b")] = padding_bias(layer)
        return values

    def _inputs(self, levels: np.ndarray, first_sample: int) -> dict[str, np.ndarray]:
        return {"input_levels": levels.reshape(len(levels), -1).astype(np.float64)}

    # --- recordings -----------------------------------------------------------------

    def _collect(self, batch: int) -> BatchRecord:
        names = self.net.layer_names
        outputs = [s for s in self.stages if s.layer is not None or s.step == 0]
        counts = {}
        per_step = np.zeros((batch, 1, len(names)), np.int32)
        events = []
        saturation = np.zeros((len(names), 3), np.int64)
        probes = {}
        for k, stage in enumerate(outputs):
            mon = self._objects[f"{stage.name}_events"]
            neuron = np.asarray(mon.i[:], np.int64)
            step_abs = np.rint(np.asarray(mon.t_[:]) / 1e-3).astype(np.int64)
            sample = step_abs // self.frame
            value = np.asarray(mon.out[:], np.int64)
            keep = sample < batch
            sample, neuron, value = sample[keep], neuron[keep], value[keep]
            c = np.zeros((batch, stage.size), np.int64)
            c[sample, neuron] = value
            counts[names[k]] = c
            np.add.at(per_step[:, 0, k], sample, 1)
            if self.settings.record_events:
                events.append((sample, np.zeros_like(sample), np.full(len(sample), k), neuron))
            saturation[k, 1] = int(np.sum(self._objects[stage.name].sat[:]))
            probe = self._objects.get(f"{stage.name}_probe")
            if probe is not None:
                p = np.asarray(probe.pc[:], np.int64).T  # (frames * steps, probed)
                at = np.arange(batch) * self.frame + stage.step
                probes[f"{names[k]}.potential"] = p[at][:, None, :]
        output = np.clip(counts[names[-1]], 0, 255).astype(np.uint8)[:, None, :]
        ev = tuple(np.concatenate([e[j] for e in events]) for j in range(4)) if events else None
        return BatchRecord(counts, per_step, output, saturation, probes, ev)
