"""The neuroemu application: the command line and the demo, on top of converters, emu and hwmodels."""

from converters.legacy_paths import keep_old_paths

__all__ = ["main"]

keep_old_paths("neuroemu", {"cli": "neuroemu.commands.cli"})


def main(argv: list[str] | None = None) -> int:
    """Run the ``neuroemu`` command line (see :func:`neuroemu.commands.cli.main`)."""
    from .commands.cli import main as commands_main

    return commands_main(argv)
