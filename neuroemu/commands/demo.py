"""The ``neuroemu demo`` subcommand: the digits CNN converted, emulated and estimated."""

from __future__ import annotations

import argparse
from pathlib import Path

from emu.engines.registry import device_names

from .arguments import add_accounting, int_range

__all__ = ["register", "cmd_demo"]


def cmd_demo(args: argparse.Namespace) -> None:
    """Train or load the digits CNN, convert, emulate and report (see :mod:`neuroemu.demo`)."""
    from neuroemu.demo import run_demo

    run_demo(
        Path(args.out),
        device=args.device,
        timesteps=args.timesteps,
        workers=args.workers,
        accounting=args.accounting,
    )


def register(subparsers) -> None:
    """Add ``demo`` to the ``neuroemu`` subcommands."""
    demo = subparsers.add_parser(
        "demo",
        help="load the shipped small CNN for scikit-learn's digits (trained when missing), "
        "convert and emulate it",
    )
    demo.add_argument(
        "--out", default="neuroemu-out", help="output directory (default: %(default)s)"
    )
    demo.add_argument("--device", default="cpp_standalone", choices=device_names("loihi"))
    demo.add_argument(
        "--timesteps",
        type=int_range(1),
        default=128,
        help="steps per sample (default: %(default)s)",
    )
    demo.add_argument(
        "--workers", type=int_range(1), default=1, help="worker processes (default: %(default)s)"
    )
    add_accounting(demo)
    demo.set_defaults(func=cmd_demo)
