"""Fake quantization of a torch model at Akida's bit widths, with straight-through estimators.

Weights of every Conv2d/Linear become ``s * clip(round(w / s), low, high)`` with
``s = max|w| / top`` (the rule of :func:`converters.targets.akida.quantize_weights`); the first
layer uses the input convolution's width. Every ReLU output ``y`` becomes
``a * clip(round(y / a), 0, 2**b - 1)`` with ``a = alpha / (2**b - 1)``, alpha a running
percentile of the layer's positive activations (the rule of :func:`converters.to_akida`).
Rounding passes gradients straight through; the output layer's bias is held at zero
(Akida's layers without activation have none). Removing the quantizers leaves plain float
modules whose weights lie on the integer grid.

With :class:`AkidaV2Bits` (the widths of ``to_akida(..., version="v2")``) every layer's
weights are 8-bit per output channel, ``s = max|w_channel| / 127`` (a folded BatchNorm
scales a channel, which keeps its grid), a ReLU output has 127 levels on a power-of-two
step ``a = 2**ceil(log2(alpha / 127))``, and the output layer keeps its bias. Outputs
without a ReLU (a residual branch, an Add) stay float here; the converter rounds them to
8 bits.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn.utils import parametrize

from ..chips.akida import AkidaBits, weight_range
from ..targets.akida_v2 import TOP as V2_TOP

__all__ = ["round_ste", "AkidaV2Bits", "WeightQuantizer", "ActivationQuantizer", "QuantizedModel"]


@dataclass(frozen=True)
class AkidaV2Bits:
    """Akida 2.0 widths, as ``to_akida(..., version="v2")`` quantizes: 8-bit weights per
    output channel, 8-bit activations (127 levels after a ReLU) on power-of-two steps."""

    weights: int = 8
    activations: int = 8

    def __post_init__(self) -> None:
        if (self.weights, self.activations) != (8, 8):
            raise ValueError(f"Akida 2.0 conversion uses 8-bit weights and activations, got {self}")


def round_ste(x: torch.Tensor) -> torch.Tensor:
    """Round in the forward pass, identity in the backward pass."""
    return x + (torch.round(x) - x).detach()


class WeightQuantizer(nn.Module):
    """Parametrization of a weight onto the symmetric grid of ``bits``-bit Akida weights,
    one scale per tensor or, ``per_channel``, per output channel (the first axis)."""

    def __init__(self, bits: int, per_channel: bool = False):
        super().__init__()
        self.low, self.high = weight_range(bits)
        self.top = min(self.high, 127)
        self.per_channel = per_channel

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        mag = w.detach().abs()
        if self.per_channel:
            mag = mag.reshape(len(w), -1).max(dim=1).values.reshape(-1, *([1] * (w.ndim - 1)))
        scale = (mag.max() if not self.per_channel else mag) / self.top
        scale = scale.clamp_min(1e-12)
        return torch.clamp(round_ste(w / scale), self.low, self.high) * scale


@dataclass
class ActivationQuantizer:
    """Forward hook quantizing a ReLU's output to ``levels`` steps above zero (``2**bits - 1``
    by default) with a running top level; ``power_of_two`` rounds the step up to a power of 2."""

    bits: int
    percentile: float = 99.9
    momentum: float = 0.1
    alpha: torch.Tensor | None = field(default=None)
    levels: int | None = None
    power_of_two: bool = False

    def __post_init__(self) -> None:
        if self.levels is None:
            self.levels = 2**self.bits - 1

    @property
    def step(self) -> torch.Tensor:
        step = self.alpha / self.levels
        return 2.0 ** torch.ceil(torch.log2(step)) if self.power_of_two else step

    def _update(self, y: torch.Tensor) -> None:
        pos = y.detach()[y.detach() > 0]
        if pos.numel() == 0:
            return
        if pos.numel() > 100_000:  # a random subset estimates the percentile well enough
            pos = pos[torch.randint(pos.numel(), (100_000,))]
        top = torch.quantile(pos.float(), self.percentile / 100)
        self.alpha = (
            top if self.alpha is None else (1 - self.momentum) * self.alpha + self.momentum * top
        )

    def __call__(self, module: nn.Module, args, y: torch.Tensor) -> torch.Tensor:
        if module.training or self.alpha is None:
            self._update(y)
        if self.alpha is None:
            return y
        return torch.clamp(round_ste(y / self.step), 0, self.levels) * self.step


class QuantizedModel:
    """Attach Akida fake quantization to ``model`` in place; :meth:`remove` takes it off."""

    def __init__(self, model: nn.Module, bits: AkidaBits | AkidaV2Bits):
        self.model = model
        weighted = [m for m in model.modules() if isinstance(m, nn.Conv2d | nn.Linear)]
        if not weighted:
            raise ValueError("quantization-aware training needs Conv2d or Linear layers")
        self.weighted = weighted
        v2 = isinstance(bits, AkidaV2Bits)
        for k, m in enumerate(weighted):
            first_conv = k == 0 and isinstance(m, nn.Conv2d) and m.in_channels in (1, 3)
            width = bits.input_weights if first_conv and not v2 else bits.weights
            parametrize.register_parametrization(m, "weight", WeightQuantizer(width, v2))
        self.output = weighted[-1]
        self.held_bias = self.output.bias is not None and not v2
        if self.held_bias:
            with torch.no_grad():
                self.output.bias.zero_()
            self.output.bias.requires_grad_(False)
        self.activations = {}
        self._hooks = []
        for name, m in model.named_modules():
            if isinstance(m, nn.ReLU):
                levels = V2_TOP if v2 else None
                q = ActivationQuantizer(bits.activations, levels=levels, power_of_two=v2)
                self.activations[name] = q
                self._hooks.append(m.register_forward_hook(q))

    def remove(self) -> nn.Module:
        """Take the quantizers off, leaving the quantized weights in place."""
        for h in self._hooks:
            h.remove()
        for m in self.weighted:
            parametrize.remove_parametrizations(m, "weight", leave_parametrized=True)
        if self.held_bias:
            self.output.bias.requires_grad_(True)
        return self.model
