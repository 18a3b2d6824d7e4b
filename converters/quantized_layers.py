"""Fake quantization of a torch model at Akida's bit widths, with straight-through estimators.

Weights of every Conv2d/Linear become ``s * clip(round(w / s), low, high)`` with
``s = max|w| / top`` (the rule of :func:`converters.akida.quantize_weights`); the first
layer uses the input convolution's width. Every ReLU output ``y`` becomes
``a * clip(round(y / a), 0, 2**b - 1)`` with ``a = alpha / (2**b - 1)``, alpha a running
percentile of the layer's positive activations (the rule of :func:`converters.to_akida`).
Rounding passes gradients straight through; the output layer's bias is held at zero
(Akida's layers without activation have none). Removing the quantizers leaves plain float
modules whose weights lie on the integer grid.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn.utils import parametrize

from .chips.akida import AkidaBits, weight_range

__all__ = ["round_ste", "WeightQuantizer", "ActivationQuantizer", "QuantizedModel"]


def round_ste(x: torch.Tensor) -> torch.Tensor:
    """Round in the forward pass, identity in the backward pass."""
    return x + (torch.round(x) - x).detach()


class WeightQuantizer(nn.Module):
    """Parametrization of a weight onto the symmetric grid of ``bits``-bit Akida weights."""

    def __init__(self, bits: int):
        super().__init__()
        self.low, self.high = weight_range(bits)
        self.top = min(self.high, 127)

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        scale = (w.detach().abs().max() / self.top).clamp_min(1e-12)
        return torch.clamp(round_ste(w / scale), self.low, self.high) * scale


@dataclass
class ActivationQuantizer:
    """Forward hook quantizing a ReLU's output to ``bits`` bits with a running top level."""

    bits: int
    percentile: float = 99.9
    momentum: float = 0.1
    alpha: torch.Tensor | None = field(default=None)

    @property
    def step(self) -> torch.Tensor:
        return self.alpha / (2**self.bits - 1)

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
        levels = 2**self.bits - 1
        return torch.clamp(round_ste(y / self.step), 0, levels) * self.step


class QuantizedModel:
    """Attach Akida fake quantization to ``model`` in place; :meth:`remove` takes it off."""

    def __init__(self, model: nn.Module, bits: AkidaBits):
        self.model = model
        weighted = [m for m in model.modules() if isinstance(m, nn.Conv2d | nn.Linear)]
        if not weighted:
            raise ValueError("quantization-aware training needs Conv2d or Linear layers")
        self.weighted = weighted
        for k, m in enumerate(weighted):
            first_conv = k == 0 and isinstance(m, nn.Conv2d) and m.in_channels in (1, 3)
            parametrize.register_parametrization(
                m, "weight", WeightQuantizer(bits.input_weights if first_conv else bits.weights)
            )
        self.output = weighted[-1]
        if self.output.bias is not None:
            with torch.no_grad():
                self.output.bias.zero_()
            self.output.bias.requires_grad_(False)
        self.activations = {}
        self._hooks = []
        for name, m in model.named_modules():
            if isinstance(m, nn.ReLU):
                q = ActivationQuantizer(bits.activations)
                self.activations[name] = q
                self._hooks.append(m.register_forward_hook(q))

    def remove(self) -> nn.Module:
        """Take the quantizers off, leaving the quantized weights in place."""
        for h in self._hooks:
            h.remove()
        for m in self.weighted:
            parametrize.remove_parametrizations(m, "weight", leave_parametrized=True)
        if self.output.bias is not None:
            self.output.bias.requires_grad_(True)
        return self.model
