"""Batches of an emulation run sent to a Dask cluster; each worker process builds its backend once.

The run's description (network, device, batch size, recording options) is scattered to every
worker once. A worker process keeps the backend of the last description it ran, so its batches
after the first reuse the compiled build; runs in one process are serialized by a lock because
Brian2's device is process-wide. Records travel back to the client, which writes them.
Brian2 is imported first on each worker's main thread (a plugin): it installs a signal handler
on import, and a large description is unpickled on another thread.
"""

from __future__ import annotations

import asyncio
import errno
import importlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from distributed import Client, as_completed
from distributed.comm import connect as comm_connect
from distributed.diagnostics.plugin import WorkerPlugin

from .traces.records import BatchRecord

__all__ = ["run_batches", "connect", "ImportBrian2"]

CONNECT_TIMEOUT_S = 10  # a scheduler that does not answer as Dask does fails within this
_lock = threading.Lock()
_cached: tuple[str, Any] | None = None  # (digest of the run's description, its backend)


class ImportBrian2(WorkerPlugin):
    """Imports Brian2 on a worker's main thread, where its signal handler can be installed."""

    name = "neuroemu-import-brian2"

    def setup(self, worker: Any) -> None:
        importlib.import_module("brian2")


@contextmanager
def connect(scheduler: Any) -> Iterator[Any]:
    """A ``distributed.Client`` for ``scheduler``: an address (closed on exit) or a Client (kept).

    An address that does not answer as a Dask scheduler within :data:`CONNECT_TIMEOUT_S`
    seconds (nothing listening, another protocol) raises OSError.
    """
    if isinstance(scheduler, Client):
        yield scheduler
        return
    if not isinstance(scheduler, str):
        raise TypeError(
            f"scheduler must be an address such as 'tcp://HOST:PORT' or a distributed.Client, "
            f"got {type(scheduler).__name__}"
        )
    try:
        _check_scheduler(scheduler)
        client = Client(scheduler, timeout=CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError, ValueError, TypeError, KeyError) as err:
        raise OSError(
            errno.ECONNREFUSED,
            f"scheduler {scheduler!r} did not answer as a Dask scheduler within "
            f"{CONNECT_TIMEOUT_S} s ({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}); "
            "give the address of a running 'dask scheduler', e.g. tcp://HOST:8786",
        ) from None
    with client:
        yield client


def _check_scheduler(address: str) -> None:
    """Raise unless ``address`` answers as a Dask scheduler within the timeout (on a thread
    of its own, so that a caller inside an event loop, a notebook's, can ask too)."""
    failed: list[BaseException] = []

    def probe() -> None:
        try:
            asyncio.run(asyncio.wait_for(_identity(address), CONNECT_TIMEOUT_S))
        except Exception as err:  # handed to the caller
            failed.append(err)

    thread = threading.Thread(target=probe, daemon=True, name="neuroemu-scheduler-probe")
    thread.start()
    thread.join(CONNECT_TIMEOUT_S + 5)
    if thread.is_alive():
        raise TimeoutError("no answer")
    if failed:
        raise failed[0]


async def _identity(address: str) -> None:
    """Ask ``address`` who it is, as a Dask client does first; raise unless a scheduler answers."""
    comm = await comm_connect(address, timeout=CONNECT_TIMEOUT_S)
    try:
        await comm.write({"op": "identity", "reply": True})
        reply = await comm.read()
    finally:
        comm.abort()
    if not isinstance(reply, dict) or reply.get("type") != "Scheduler":
        raise ValueError(f"it answered {str(reply)[:80]!r}")


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
