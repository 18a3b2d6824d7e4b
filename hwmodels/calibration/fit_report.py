"""The printout of a fit: each fitted constant with its range, then the residuals."""

from __future__ import annotations

__all__ = ["print_fit"]


def print_fit(
    values: dict[str, tuple[float, float, float]],
    residuals: dict[str, float],
    range_format: str = ".4e",
) -> None:
    """Print ``name = value  # range low .. high`` per constant, then modelled / measured."""
    for name, (value, low, high) in values.items():
        print(f"{name} = {value:.4e}  # range {low:{range_format}} .. {high:{range_format}}")
    print(
        "residuals (modelled / measured): "
        + ", ".join(f"{k} {v:.4f}" for k, v in residuals.items())
    )
