"""Zero-aware training: a differentiable penalty on non-zero activations and weights, and the
sparsity report of a trained model.

Akida's energy follows events (non-zero activations) and the non-zero weights they touch, so
non-zeros are penalized during training (zero-aware training, Habara, Sato, Awano, DA
Symposium 2024)::

    loss = task + r(t) * (λa * A + λw * W)

    A = sum_layers sum_neurons [k > 0] log(1 + k)  /  (batch * neurons of all layers)
    W = mean_layers mean(tanh(|w| / s))
    r(t) = min(1, t / warmup)       t: training steps so far, in epochs

``k = y / a`` is a ReLU layer's output (after a following max pool: the events Akida
counts) in units of its quantization step ``a`` (its batch mean when unquantized); with
quantization-aware training ``k`` is the integer output level and its rounding passes
gradients straight through. ``A`` is the log-sum penalty (Candès, Wakin, Boyd, J. Fourier
Anal. Appl. 14, 2008), a concave surrogate of the count of non-zeros: every level pays,
the first most. Outputs that already round to zero (``k = 0``) get no gradient (the mask
``[k > 0]`` is held constant), so the term pushes outputs below one quantization step and
no further. Summing over neurons, not averaging per layer, weighs each layer by its size,
as the event count does. ``W`` is a smooth count of non-zero weights, ``w`` a layer's
weights and ``s`` their quantization step (``max|w| / 7`` unquantized). Both terms are
unchanged when a layer's activations or weights are scaled: only sparsity pays. The
warm-up ``r`` lets the network learn its features before the penalty reaches full weight
(without it, large λa can silence every neuron in the first steps, for good).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # torch is imported on first use: ``import converters`` stays light
    import torch
    from torch import nn

__all__ = ["ZeroAware", "ActivationRecorder", "weight_penalty", "SparsityReport", "sparsity"]


@dataclass(frozen=True)
class ZeroAware:
    """Weights of the two penalty terms (non-zero activations, non-zero weights) and the
    number of epochs over which both rise linearly from zero."""

    activations: float = 0.0
    weights: float = 0.0
    warmup: float = 1.0  # epochs

    def __post_init__(self) -> None:
        if self.activations < 0 or self.weights < 0:
            raise ValueError(f"penalty weights must be >= 0, got {self}")
        if self.warmup < 0:
            raise ValueError(f"warmup must be >= 0 epochs, got {self.warmup}")

    def ramp(self, epochs_done: float) -> float:
        """Fraction of the penalty weights in force after ``epochs_done`` epochs."""
        return 1.0 if self.warmup == 0 else min(1.0, epochs_done / self.warmup)


def _layer_outputs(model: nn.Module) -> dict[str, list[nn.Module]]:
    """Each ReLU and the MaxPool2d right after it (in module order): one layer's output."""
    from torch import nn

    groups: dict[str, list[nn.Module]] = {}
    last = None
    for name, m in model.named_modules():
        if isinstance(m, nn.ReLU):
            groups[name] = [m]
            last = name
        elif isinstance(m, nn.MaxPool2d) and last is not None:
            groups[last].append(m)
            last = None
        elif len(list(m.children())) == 0:
            last = None
    return groups


class ActivationRecorder:
    """Forward hooks keeping each ReLU layer's latest output (after a following max pool)."""

    def __init__(self, model: nn.Module, steps: dict[str, object] | None = None):
        self.outputs: dict[str, torch.Tensor] = {}
        self.steps = steps or {}
        self._hooks = []
        for name, mods in _layer_outputs(model).items():
            self._hooks.append(mods[-1].register_forward_hook(self._keep(name)))

    def _keep(self, name: str):
        def hook(module, args, y):
            self.outputs[name] = y

        return hook

    def penalty(self) -> torch.Tensor:
        """Log-sum penalty over all recorded neurons, per neuron and sample:
        mean of ``[k > 0] log(1 + k)``, ``k = y / a`` (the mask carries no gradient)."""
        import torch

        total, count = 0.0, 0
        for name, y in self.outputs.items():
            q = self.steps.get(name)
            step = q.step if q is not None and q.alpha is not None else y.detach().mean()
            k = y / step.clamp_min(1e-12)
            total = total + torch.where(k.detach() > 0, torch.log1p(k), 0.0).sum()
            count += k.numel()
        if count == 0:
            raise ValueError("no ReLU output recorded: run the model forward first")
        return total / count

    def remove(self) -> None:
        for h in self._hooks:
            h.remove()


def weight_penalty(model: nn.Module) -> torch.Tensor:
    """mean over Conv2d/Linear layers of mean(tanh(|w| / s)), s = max|w| / 7."""
    import torch
    from torch import nn

    terms = []
    for m in model.modules():
        if isinstance(m, nn.Conv2d | nn.Linear):
            w = m.weight
            terms.append(torch.tanh(w.abs() / (w.detach().abs().max() / 7).clamp_min(1e-12)).mean())
    return torch.stack(terms).mean()


@dataclass
class SparsityReport:
    """Accuracy and per-layer fractions of non-zero activations (test set) and weights."""

    accuracy: float
    activations: dict[str, float] = field(default_factory=dict)
    weights: dict[str, float] = field(default_factory=dict)
    activation_sizes: dict[str, int] = field(default_factory=dict)
    weight_sizes: dict[str, int] = field(default_factory=dict)

    @property
    def activation_fraction(self) -> float:
        """Non-zero activations over all layers, per neuron."""
        total = sum(self.activation_sizes.values())
        return sum(self.activations[k] * self.activation_sizes[k] for k in self.activations) / total

    @property
    def weight_fraction(self) -> float:
        total = sum(self.weight_sizes.values())
        return sum(self.weights[k] * self.weight_sizes[k] for k in self.weights) / total

    def __str__(self) -> str:
        lines = [f"accuracy {100 * self.accuracy:.2f}%"]
        for k, v in self.activations.items():
            lines.append(f"  non-zero activations {k}: {100 * v:.1f}%")
        for k, v in self.weights.items():
            lines.append(f"  non-zero weights {k}: {100 * v:.1f}%")
        lines.append(
            f"  total: activations {100 * self.activation_fraction:.1f}%, "
            f"weights {100 * self.weight_fraction:.1f}%"
        )
        return "\n".join(lines)


def sparsity(
    model: nn.Module, x: np.ndarray, y: np.ndarray, batch_size: int = 500
) -> SparsityReport:
    """Accuracy and non-zero fractions of ``model`` (as it runs, quantizers included) on (x, y)."""
    import torch
    from torch import nn

    model.eval()
    recorder = ActivationRecorder(model)
    nonzero: dict[str, int] = {}
    sizes: dict[str, int] = {}
    correct = 0
    with torch.no_grad():
        for start in range(0, len(x), batch_size):
            out = model(torch.as_tensor(x[start : start + batch_size], dtype=torch.float32))
            correct += int((out.argmax(1).numpy() == y[start : start + batch_size]).sum())
            for name, act in recorder.outputs.items():
                nonzero[name] = nonzero.get(name, 0) + int((act != 0).sum())
                sizes[name] = act[0].numel()
    recorder.remove()
    report = SparsityReport(correct / len(x))
    for name in nonzero:
        report.activations[name] = nonzero[name] / (sizes[name] * len(x))
        report.activation_sizes[name] = sizes[name]
    for name, m in model.named_modules():
        if isinstance(m, nn.Conv2d | nn.Linear):
            report.weights[name] = float((m.weight != 0).float().mean())
            report.weight_sizes[name] = m.weight.numel()
    return report
