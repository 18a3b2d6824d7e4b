"""Training of torch models on image data sets (float; quantization- and zero-aware options)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.fx
from torch import nn
from torch.nn import functional as F

from ..chips.akida import AkidaBits
from .datasets import Dataset
from .quantized_layers import AkidaV2Bits, QuantizedModel
from .zero_aware import ActivationRecorder, ZeroAware, sparsity, weight_penalty

__all__ = ["train", "accuracy", "predict", "replace_maxpool"]


def predict(model: nn.Module, x: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """Class predictions of ``model`` on a batch of inputs."""
    model.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(x), batch_size):
            out.append(model(torch.as_tensor(x[start : start + batch_size])).argmax(1).numpy())
    return np.concatenate(out) if out else np.zeros(0, np.int64)


def replace_maxpool(model: nn.Module) -> nn.Module:
    """Swap every max pooling of ``model`` for average pooling of the same window; use the
    model it returns.

    MaxPool2d modules are swapped in place. Functional max pooling (``F.max_pool2d`` in a
    ``forward``) is rewritten in a traced copy (``torch.fx``) sharing the parameters, which
    is returned; a model that cannot be traced is refused naming why. Average pooling is
    linear, so it converts for Loihi exactly; the swap changes the function, so fine-tune
    afterwards (:func:`train` with a few epochs and a small ``lr``).
    """
    _swap_modules(model)
    try:
        traced = torch.fx.symbolic_trace(model)
    except Exception as err:  # fx raises many types for untraceable control flow
        raise ValueError(
            f"cannot look for functional max pooling in {type(model).__name__}: torch.fx "
            f"cannot trace it ({str(err).splitlines()[0]}); pool with nn.MaxPool2d modules "
            "or nn.AvgPool2d instead"
        ) from None
    calls = [n for n in traced.graph.nodes if n.op == "call_function" and n.target in _MAX_POOLS]
    if not calls:
        return model
    for node in calls:
        node.target, node.args, node.kwargs = F.avg_pool2d, *_avg_arguments(node)
    traced.recompile()
    return traced


_MAX_POOLS = (F.max_pool2d, torch.max_pool2d)
_MAX_POOL_ARGS = ("input", "kernel_size", "stride", "padding", "dilation", "ceil_mode")


def _avg_arguments(node) -> tuple[tuple, dict]:
    """avg_pool2d's (args, kwargs) for a max_pool2d call of the same window."""
    given = dict(zip(_MAX_POOL_ARGS, node.args, strict=False)) | dict(node.kwargs)
    if given.get("dilation", 1) not in (1, (1, 1)) or given.get("ceil_mode", False):
        raise ValueError(
            f"functional max pooling {node.name!r}: dilated or ceil_mode pooling has no "
            "average twin"
        )
    if given.get("return_indices", False):
        raise ValueError(f"functional max pooling {node.name!r} returns indices")
    stride = given.get("stride") or given["kernel_size"]
    return (given["input"], given["kernel_size"], stride, given.get("padding", 0)), {}


def _swap_modules(model: nn.Module) -> None:
    """Swap every MaxPool2d module of ``model`` in place for an AvgPool2d."""
    for name, child in model.named_children():
        if isinstance(child, nn.MaxPool2d):
            if child.dilation not in (1, (1, 1)) or child.ceil_mode:
                raise ValueError(
                    f"MaxPool2d {name!r}: dilated or ceil_mode pooling has no average twin"
                )
            setattr(model, name, nn.AvgPool2d(child.kernel_size, child.stride, child.padding))
        else:
            _swap_modules(child)


def accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(predict(model, x) == y))


def train(
    model: nn.Module,
    x: np.ndarray | Dataset,
    y: np.ndarray | None = None,
    epochs: int = 10,
    batch_size: int = 64,
    lr: float = 1e-3,
    seed: int = 0,
    penalty: Callable[[nn.Module], torch.Tensor] | None = None,
    log: Callable[[str], None] | None = None,
    quantization: AkidaBits | AkidaV2Bits | None = None,
    zero_aware: ZeroAware | None = None,
    test: tuple[np.ndarray, np.ndarray] | None = None,
) -> nn.Module:
    """Train ``model`` with Adam and cross-entropy (plus ``penalty(model)`` when given).

    Parameters
    ----------
    model
        A torch model; trained in place and returned.
    x, y
        Training inputs and labels, or a :class:`~converters.training.datasets.Dataset` as ``x``
        (its test split then serves as ``test``).
    quantization
        Akida bit widths for quantization-aware training (straight-through estimators,
        see :mod:`converters.training.quantized_layers`); the returned model is plain float with its
        weights on the integer grid (and, for :class:`AkidaBits`, its output bias zero).
        :class:`~converters.training.quantized_layers.AkidaV2Bits` trains for
        ``to_akida(..., version="v2")``.
    zero_aware
        Weights of the penalties on non-zero activations and weights and their warm-up
        (:mod:`converters.training.zero_aware`).
    test
        Test inputs and labels for the report left in ``model.training_report``
        (:class:`~converters.training.zero_aware.SparsityReport`; the training data when omitted).
    """
    if isinstance(x, Dataset):
        test = test if test is not None else (x.x_test, x.y_test)
        x, y = x.x_train, x.y_train
    if y is None:
        raise ValueError("train needs labels y, or a Dataset as x")
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    quantized = QuantizedModel(model, quantization) if quantization is not None else None
    steps = quantized.activations if quantized is not None else {}
    recorder = ActivationRecorder(model, steps) if zero_aware is not None else None
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    xt, yt = torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y, dtype=torch.long)
    steps_per_epoch = -(-len(x) // batch_size)
    for epoch in range(epochs):
        model.train()
        order = rng.permutation(len(x))
        total = 0.0
        for step, start in enumerate(range(0, len(x), batch_size)):
            idx = torch.as_tensor(order[start : start + batch_size])
            loss = nn.functional.cross_entropy(model(xt[idx]), yt[idx])
            if penalty is not None:
                loss = loss + penalty(model)
            if zero_aware is not None:
                ramp = zero_aware.ramp(epoch + (step + 1) / steps_per_epoch)
                loss = loss + ramp * zero_aware.activations * recorder.penalty()
                loss = loss + ramp * zero_aware.weights * weight_penalty(model)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        if log:
            log(f"epoch {epoch + 1}/{epochs}: loss {total / len(x):.4f}")
    if recorder is not None:
        recorder.remove()
    x_report, y_report = test if test is not None else (x, y)
    model.training_report = sparsity(model, x_report, y_report)
    if log:
        log(str(model.training_report))
    if quantized is not None:
        quantized.remove()
    model.eval()
    return model
