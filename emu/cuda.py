"""brian2cuda: the ``cuda_standalone`` device, configured for the machine it builds on."""

from __future__ import annotations

__all__ = ["prepare_cuda_device"]


def prepare_cuda_device() -> None:
    """Import brian2cuda (which registers ``cuda_standalone``) or say how to install it."""
    try:
        import brian2cuda  # noqa: F401
    except ImportError as error:
        raise ImportError(
            "device 'cuda_standalone' needs brian2cuda: pip install 'neuroemu[cuda]' "
            "(Python >= 3.12, brian2 2.10)"
        ) from error
