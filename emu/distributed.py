"""Batches of an emulation run sent to a Dask cluster; each worker process builds its backend once.

The run's description (network, device, batch size, recording options) is scattered to every
worker once. A worker process keeps the backend of the last description it ran, so its batches
after the first reuse the compiled build; runs in one process are serialized by a lock because
Brian2's device is process-wide. Records travel back to the client, which writes them.
Brian2 is imported first on each worker's main thread (a plugin): it installs a signal handler
on import, and a large description is unpickled on another thread.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from distributed import Client, as_completed
from distributed.diagnostics.plugin import WorkerPlugin

from .records import BatchRecord

__all__ = ["run_batches", "connect", "ImportBrian2"]

_lock = threading.Lock()
_cached: tuple[str, Any] | None = None  # (digest of the run's description, its backend)


class ImportBrian2(WorkerPlugin):
    """Imports Brian2 on a worker's main thread, where its signal handler can be installed."""

    name = "neuroemu-import-brian2"

    def setup(self, worker: Any) -> None:
        importlib.import_module("brian2")


@contextmanager
def connect(scheduler: Any) -> Iterator[Any]:
    """A ``distributed.Client`` for ``scheduler``: an address (closed on exit) or a Client (kept)."""
    if isinstance(scheduler, Client):
        yield scheduler
        return
    if not isinstance(scheduler, str):
        raise TypeError(
            f"scheduler must be an address such as 'tcp://HOST:PORT' or a distributed.Client, "
            f"got {type(scheduler).__name__}"
        )
    with Client(scheduler) as client:
        yield client


def run_batches(
    spec: Any, digest: str, encoded: np.ndarray, starts: list[int], scheduler: Any
) -> Iterator[tuple[int, BatchRecord]]:
    """Run the batches beginning at ``starts`` on a Dask cluster; yield them as they finish.

    Parameters
    ----------
    spec
        The picklable run description; its ``backend()`` makes the backend on a worker.
    digest
        Identifies ``spec``: a worker reuses its backend while the digest is unchanged.
    encoded
        Encoded inputs of every sample of the run.
    starts
        First sample of each batch to run (batches are ``spec.batch_size`` long).
    scheduler
        Scheduler address or ``distributed.Client``.
    """
    bs = spec.batch_size
    with connect(scheduler) as client:
        if not client.scheduler_info().get("workers"):
            client.wait_for_workers(1, timeout=60)
        client.register_plugin(ImportBrian2())
        shared = client.scatter(spec, broadcast=True, hash=False)
        futures = {
            client.submit(_run_on_worker, shared, digest, s, encoded[s : s + bs], pure=False): s
            for s in starts
        }
        try:
            for future, record in as_completed(futures, with_results=True):
                yield futures.pop(future), record
        finally:
            client.cancel(list(futures) + [shared])


def _run_on_worker(spec: Any, digest: str, start: int, encoded: np.ndarray) -> BatchRecord:
    global _cached
    with _lock:
        if _cached is None or _cached[0] != digest:
            _cached = None
            _cached = (digest, spec.backend())
        return _cached[1].run_batch(encoded, start)
