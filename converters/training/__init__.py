"""Training of torch models: the loop, reference architectures, data sets, Akida's fake
quantization and zero-aware penalties.

``import converters.training`` stays light: torch loads with the first training name used
(:func:`train`, :func:`accuracy`, :func:`predict`, :func:`replace_maxpool`, from
:mod:`converters.training.trainer`) or the first torch submodule imported.
"""

from importlib import import_module

__all__ = ["train", "accuracy", "predict", "replace_maxpool"]


def __getattr__(name: str):
    if name in __all__:
        return getattr(import_module(".trainer", __name__), name)
    raise AttributeError(f"module 'converters.training' has no attribute {name!r}")
