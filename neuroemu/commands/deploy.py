"""The ``neuroemu deploy-report`` subcommand: where a converted network sits on its chip."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

__all__ = ["register", "cmd_deploy_report"]


def cmd_deploy_report(args: argparse.Namespace) -> None:
    """Print the deployment table of a saved network (and write it as JSON)."""
    from converters.chips.files import load_net
    from hwmodels.deploy import deploy_report

    report = deploy_report(load_net(args.net))
    print(report.table())
    if args.json:
        with open(args.json, "w") as f:
            json.dump(asdict(report) | {"fits": report.fits}, f, indent=2)


def register(subparsers) -> None:
    """Add ``deploy-report`` to the ``neuroemu`` subcommands."""
    rep = subparsers.add_parser(
        "deploy-report", help="chips, cores per layer, synaptic memory and binding limits"
    )
    rep.add_argument("net", help="converted network (.npz)")
    rep.add_argument("--json", help="also write the report as JSON")
    rep.set_defaults(func=cmd_deploy_report)
