"""A small Loihi network, its samples and command-line helpers shared by the fault tests."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from trace_examples import random_net

from converters.chips.loihi import LoihiInput
from neuroemu.commands import main

__all__ = ["SAMPLES", "BATCH", "small_net", "small_data", "one_line_error"]

SAMPLES = 12
BATCH = 3


def small_net():
    """A 16-24-16-5 network with rate-coded inputs and 16 steps."""
    return replace(random_net(seed=3, timesteps=16), input=LoihiInput((1, 4, 4), "rate"))


def small_data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(8)
    return rng.random((SAMPLES, 1, 4, 4)), rng.integers(0, 5, SAMPLES)


def one_line_error(argv: list[str], capsys) -> str:
    """The message of a command that must fail with status 2 and one line, no traceback."""
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 1, err
    return err
