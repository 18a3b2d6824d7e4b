"""Brian2 code generation of Akida 2.0 graphs, exact to the engine's integers.

The frame scheme of :mod:`emu.engines.akida_brian2`: step 0 loads the input and clears every
potential; a stage computes at one step past its latest inbound and fires its non-zero
outputs as spikes carrying their value (``p_post += w * out_pre``). Input shifts are folded
into the weights (``w << input_shift``, exact); a depthwise kernel is block-diagonal; an Add
receives ``a << a_shift`` and ``b << b_shift``, a Concatenate its inbounds' values at their
channel offsets. A pooled layer is two stages: the raw potentials ``v`` (max pooling) or
activations ``a`` (global average) all fire into the pooled group, which keeps the maximum
or the saturating ``post_op_buffer_bits`` sum in row-major order. The compute code is the
arithmetic of :mod:`converters.chips.akida_v2` with per-neuron integer constants: the
saturated bias, the ReLU cap, the output scale and the output shift as ``(q * mul + half)
// div``. Samples run back to back.
"""

from __future__ import annotations

import numpy as np

from converters.chips.akida_v2 import AkidaV2Layer, AkidaV2Net, output_range, saturate

from .akida_brian2 import (
    AkidaBackend,
    _Stage,
    conv_taps,
    kernel_connections,
    pool_connections,
)

__all__ = ["AkidaV2Backend", "v2_connections"]

VARIABLES = ("p", "pc", "out", "sat", "b", "v", "a", "q", "bias", "cap", "scale", "mul", "half",
             "div", "lo", "hi")  # fmt: skip
V2_STAGE_MODEL = "".join(f"{name} : integer\n" for name in VARIABLES)


def _bounds(bits: int) -> tuple[int, int]:
    return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1


def _potential_code(layer: AkidaV2Layer) -> str:
    (bl, bh), (pl, ph) = _bounds(layer.buffer_bits), _bounds(layer.post_op_buffer_bits)
    if layer.kind == "input_conv":
        return f"v = int(clip(clip(p + bias, {bl}, {bh}), {pl}, {ph}))\npc = v"
    return f"v = int(clip(clip(p, {bl}, {bh}) + bias, {pl}, {ph}))\npc = v"


def _activation_code(layer: AkidaV2Layer) -> str:
    return "a = int(clip(v, 0, cap))" if layer.activation else "a = v"


def _output_code(layer: AkidaV2Layer, source: str = "a") -> str:
    pl, ph = _bounds(layer.post_op_buffer_bits)
    return (
        f"q = int(clip({source} * scale, {pl}, {ph}))\n"
        "q = (q * mul + half) // div\n"
        "out = int(clip(q, lo, hi))"
    )


def _shifted(values: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    return values.astype(np.int64) * (np.int64(1) << shifts.astype(np.int64))


def v2_connections(layer: AkidaV2Layer, which: int = 0) -> tuple[np.ndarray, ...]:
    """Synapses (pre, post, weight) from inbound ``which`` of ``layer`` to its raw potentials.

    Zero weights are kept, so the synapses depend on the shapes only.
    """
    h, w, c = layer.input_shapes[which]
    ho, wo, f = layer.conv_shape
    if layer.kind in ("add", "concat"):
        pre = np.arange(h * w * c)
        if layer.kind == "add":
            shift = layer.a_shift if which == 0 else layer.b_shift
            return pre, pre, np.tile(_shifted(np.ones(c), shift), h * w)
        offset = 0 if which == 0 else layer.input_shapes[0][2]
        return pre, pre // c * f + pre % c + offset, np.ones(len(pre), np.int64)
    if layer.kind == "dense":
        weights = layer.weights * (np.int64(1) << layer.input_shift)[:, None]
        pre, post = np.divmod(np.arange(h * w * c * f), f)
        return pre, post, weights.reshape(-1)
    kernel = layer.weights if layer.kind == "input_conv" else layer.weights[::-1, ::-1]
    if layer.kind != "input_conv":
        kernel = kernel * (np.int64(1) << layer.input_shift)[None, None, :, None]
    if layer.kind == "depthwise":
        kernel = kernel[:, :, :, 0, None] * np.eye(c, dtype=np.int64)[None, None]
    k = layer.kernel_size
    taps = conv_taps((h, w), (k, k), (ho, wo), (layer.stride,) * 2, layer.padding)
    return kernel_connections((h, w, c), kernel, wo, taps)


def _padding_bias(layer: AkidaV2Layer) -> np.ndarray:
    """Per raw potential (h, w, f flattened): what the input convolution's padded cells add."""
    if layer.kind != "input_conv":
        return np.zeros(int(np.prod(layer.conv_shape)), np.int64)
    h, w, _ = layer.input_shapes[0]
    k = layer.kernel_size
    kernel = (layer.weights * layer.padding_value[None, None, :, None]).sum(axis=2)
    oh, ow, di, dj, hi, wi = conv_taps((h, w), (k, k), layer.conv_shape[:2],
                                       (layer.stride,) * 2, layer.padding)  # fmt: skip
    outside = (hi < 0) | (hi >= h) | (wi < 0) | (wi >= w)
    bias = np.zeros(layer.conv_shape, np.int64)
    np.add.at(bias, (oh[outside], ow[outside]), kernel[di[outside], dj[outside]])
    return bias.reshape(-1)


class AkidaV2Backend(AkidaBackend):
    """Runs batches of samples of an AkidaV2Net on a Brian2 device (``settings.device``).

    Records what :class:`emu.engines.akida_brian2.AkidaBackend` records; ``"<layer>.potential"``
    probes hold ``v`` (the shifted sum of an Add, the output of a Concatenate).
    """

    target = "akida_v2"
    stage_model = V2_STAGE_MODEL
    stage_dtypes = {name: np.int64 for name in VARIABLES}

    def _stages(self) -> list[_Stage]:
        net: AkidaV2Net = self.net
        stages = [_Stage("stage0", int(np.prod(net.input_shape)), 0, "", False, None)]
        steps = {net.input_name: 0}
        self._sources = {net.input_name: "stage0"}
        for k, layer in enumerate(net.layers, start=1):
            step = max(steps[name] for name in layer.inbounds) + 1
            size = int(np.prod(layer.output_shape))
            if layer.pool != "none":
                raw_code = _potential_code(layer) + "\nout = v"
                if layer.pool == "global_avg":
                    raw_code = _potential_code(layer) + "\n" + _activation_code(layer) + "\nout = a"
                raw = _Stage(f"raw{k}", int(np.prod(layer.conv_shape)), step, raw_code, True, None)
                stages.append(raw)
                step += 1
                if layer.pool == "max":
                    code = "v = p\npc = v\n" + _activation_code(layer) + "\n" + _output_code(layer)
                else:
                    code = "pc = p\n" + _output_code(layer, "p")
            elif layer.kind == "concat":
                code = "out = p\npc = p"
            elif layer.kind == "add":
                bl, bh = _bounds(layer.buffer_bits)
                pl, ph = _bounds(layer.post_op_buffer_bits)
                code = f"a = int(clip(clip(p, {bl}, {bh}), {pl}, {ph}))\npc = a\n" + (
                    "q = (a * mul + half) // div\nout = int(clip(q, lo, hi))"
                )
            else:
                code = "\n".join(
                    (_potential_code(layer), _activation_code(layer), _output_code(layer))
                )
            stages.append(_Stage(f"stage{k}", size, step, code, False, layer))
            steps[layer.name] = step
            self._sources[layer.name] = f"stage{k}"
        return stages

    def _synapses(self) -> dict[str, tuple]:
        out: dict[str, tuple] = {}
        for k, layer in enumerate(self.net.layers, start=1):
            target = f"raw{k}" if layer.pool != "none" else f"stage{k}"
            for j, source in enumerate(layer.inbounds):
                pre, post, w = v2_connections(layer, j)
                out[f"syn{k}_{j}"] = (self._sources[source], target, pre, post, w,
                                      "p_post += w * out_pre")  # fmt: skip
            if layer.pool == "max":
                sets = pool_connections(layer.conv_shape, layer.output_shape, "max",
                                        (layer.pool_size,) * 2, (layer.pool_stride,) * 2,
                                        layer.padding)  # fmt: skip
                if self.settings.device == "cpp_standalone":  # serial: one object, one file
                    sets = [tuple(np.concatenate([s[k] for s in sets]) for k in (0, 1))]
                for j, (pre_p, post_p) in enumerate(sets):
                    code = "p_post = p_post + int(out_pre > p_post) * (out_pre - p_post)"
                    out[f"pool{k}_{j}"] = (target, f"stage{k}", pre_p, post_p, None, code)
            elif layer.pool == "global_avg":
                ((pre_p, post_p),) = pool_connections(layer.conv_shape, layer.output_shape,
                                                      "global_avg", (1, 1), (1, 1), "same")  # fmt: skip
                low, high = _bounds(layer.post_op_buffer_bits)
                code = f"p_post = int(clip(p_post + out_pre, {low}, {high}))"
                out[f"pool{k}"] = (target, f"stage{k}", pre_p, post_p, None, code)
        return out

    def _parameters(self) -> dict[tuple[str, str], np.ndarray]:
        values: dict[tuple[str, str], np.ndarray] = {}
        for name, (_, _, _, _, w, _) in self.synapses.items():
            if w is not None:
                values[(name, "w")] = w
        for k, layer in enumerate(self.net.layers, start=1):
            out_stage = f"stage{k}"
            raw_stage = f"raw{k}" if layer.pool != "none" else out_stage
            values[(raw_stage, "b")] = _padding_bias(layer)
            if layer.kind == "concat":
                continue
            positions = int(np.prod(layer.output_shape[:2]))
            raw_positions = int(np.prod(layer.conv_shape[:2]))
            if layer.kind != "add":
                bias = saturate(layer.bias << layer.bias_shift, layer.post_op_buffer_bits)
                values[(raw_stage, "bias")] = np.tile(bias, raw_positions)
                cap = layer.max_value << layer.max_value_shift if layer.activation else bias * 0
                cap_stage = raw_stage if layer.pool == "global_avg" else out_stage
                cap_positions = raw_positions if layer.pool == "global_avg" else positions
                values[(cap_stage, "cap")] = np.tile(cap, cap_positions)
                values[(out_stage, "scale")] = np.tile(layer.output_scales, positions)
            shift = layer.output_shift
            right = np.maximum(-shift, 0)
            half = np.where(right > 0, np.int64(1) << np.maximum(right - 1, 0), 0)
            low, high = output_range(layer.output_bits, layer.output_signed)
            for var, value in (("mul", np.int64(1) << np.maximum(shift, 0)), ("half", half),
                               ("div", np.int64(1) << right), ("lo", low), ("hi", high)):  # fmt: skip
                values[(out_stage, var)] = np.tile(np.broadcast_to(value, shift.shape), positions)
        return values
