"""The neuroemu application: the command line and the demo, on top of converters, emu and hwmodels."""

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Run the ``neuroemu`` command line (see :func:`neuroemu.cli.main`)."""
    from .cli import main as cli_main

    return cli_main(argv)
