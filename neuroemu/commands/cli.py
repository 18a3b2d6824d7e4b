"""The ``neuroemu`` command line: the parser of every subcommand, and one-line errors."""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import NoReturn

from emu.engines.cuda import CudaSetupError
from emu.traces.access import SelectionError

__all__ = ["main", "build_parser", "COMMAND_MODULES", "KNOWN_ERRORS"]

# modules that contribute subcommands through ``register(subparsers)``, in the help's order
COMMAND_MODULES = (
    "neuroemu.commands.demo",
    "neuroemu.commands.convert",
    "neuroemu.commands.train",
    "neuroemu.commands.nir",
    "neuroemu.commands.run",
    "neuroemu.commands.traces",
    "neuroemu.commands.estimate",
    "neuroemu.commands.deploy",
)

# errors a user can fix: printed as one line (a traceback only with --debug)
KNOWN_ERRORS = (
    ValueError,
    OSError,
    SelectionError,
    CudaSetupError,
    ModuleNotFoundError,
    TypeError,
    MemoryError,
    RecursionError,
)


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, pointing at ``-h`` for the usage."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (usage: {self.prog} -h)\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand of :data:`COMMAND_MODULES`."""
    parser = _Parser(
        prog="neuroemu",
        description="Convert DNNs to spiking networks, emulate Loihi and Akida exactly in Brian2, "
        "and estimate energy, power and latency.",
    )
    parser.add_argument(
        "--debug", action="store_true", help="show the traceback of an error (anywhere in the line)"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def _message(err: BaseException) -> str:
    if isinstance(err, ModuleNotFoundError):
        return (
            f"this command needs the package {str(err.name).split('.')[0]!r}, which is not installed "
            "(pip install 'neuroemu[convert]' for torch, OpenVINO and scikit-learn)"
        )
    if isinstance(err, MemoryError):
        return "not enough memory for this command (fewer samples or a smaller batch need less)"
    if isinstance(err, OSError) and err.strerror:
        return err.strerror if err.filename is None else f"{err.filename}: {err.strerror}"
    return str(err)


def main(argv: list[str] | None = None) -> int:
    """Run one command; an error prints one line ``neuroemu: error: ...`` (a traceback only
    with ``--debug``) and exits with status 2 (an error the user can fix) or 1 (any other)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    parser = build_parser()
    args = parser.parse_args(["--debug", *(a for a in argv if a != "--debug")] if debug else argv)
    try:
        args.func(args)
    except KeyboardInterrupt:
        parser.exit(130, "neuroemu: interrupted\n")
    except KNOWN_ERRORS as err:
        if debug:
            raise
        parser.exit(2, f"neuroemu: error: {_one_line(_message(err))}\n")
    except Exception as err:  # a fault of this package or a library: still one line
        if debug:
            raise
        parser.exit(
            1,
            f"neuroemu: error: {type(err).__name__}: {_one_line(str(err))} "
            "(an unexpected error: rerun with --debug for the traceback)\n",
        )
    return 0


def _one_line(text: str) -> str:
    return " ".join(text.split()) or "(no message)"
