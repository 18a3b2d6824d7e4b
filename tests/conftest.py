"""Shared fixtures: a build cache per test session and the trained digits network."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

# pytest-xdist runs one worker per core: single-threaded BLAS avoids oversubscription and
# the thread-pool stalls seen when torch and OpenBLAS share a process
threadpool_limits(1)


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory):
    """A standalone build cache shared by the whole session."""
    return tmp_path_factory.mktemp("build-cache")


@pytest.fixture(scope="session")
def digits():
    from converters.training import datasets

    return datasets.digits()


@pytest.fixture(scope="session")
def digits_model(digits):
    """The demo CNN trained on the digits training split (seconds)."""
    import torch

    from converters import models, training

    torch.set_num_threads(1)  # pytest-xdist runs one worker per core
    return training.train(
        models.digits_cnn(16), digits.x_train, digits.y_train, epochs=30, lr=3e-3, batch_size=32
    )


@pytest.fixture(scope="session")
def digits_graph(digits, digits_model):
    """The demo CNN imported and normalized."""
    import converters

    graph = converters.load(digits_model, digits.x_train[:1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return converters.normalize(graph, digits.x_train, percentile=99.9)


@pytest.fixture
def rng(request):
    return np.random.default_rng(abs(hash(request.node.name)) % 2**32)
