"""The ``neuroemu`` command line: one module per command family, the argparse types and
``--device`` choices they share (:mod:`.arguments`), and the parser over them all (:mod:`.cli`)."""

from .cli import build_parser, main

__all__ = ["main", "build_parser"]
