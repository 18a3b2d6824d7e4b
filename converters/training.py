"""Training of torch models on image data sets (float; quantization- and zero-aware options)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

__all__ = ["train", "accuracy", "predict"]


def predict(model: nn.Module, x: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """Class predictions of ``model`` on a batch of inputs."""
    model.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(x), batch_size):
            out.append(model(torch.as_tensor(x[start : start + batch_size])).argmax(1).numpy())
    return np.concatenate(out) if out else np.zeros(0, np.int64)


def accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(predict(model, x) == y))


def train(
    model: nn.Module,
    x: np.ndarray,
    y: np.ndarray,
    epochs: int = 10,
    batch_size: int = 64,
    lr: float = 1e-3,
    seed: int = 0,
    penalty: Callable[[nn.Module], torch.Tensor] | None = None,
    log: Callable[[str], None] | None = None,
) -> nn.Module:
    """Train ``model`` with Adam and cross-entropy (plus ``penalty(model)`` when given)."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    xt, yt = torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y, dtype=torch.long)
    for epoch in range(epochs):
        model.train()
        order = rng.permutation(len(x))
        total = 0.0
        for start in range(0, len(x), batch_size):
            idx = torch.as_tensor(order[start : start + batch_size])
            loss = nn.functional.cross_entropy(model(xt[idx]), yt[idx])
            if penalty is not None:
                loss = loss + penalty(model)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss) * len(idx)
        if log:
            log(f"epoch {epoch + 1}/{epochs}: loss {total / len(x):.4f}")
    model.eval()
    return model
