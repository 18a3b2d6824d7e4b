"""The emulation front end: run a converted network on a Brian2 device over many samples.

Samples are split into batches of a fixed size (one compiled binary serves them all),
batches are spread over worker processes when asked, and the recordings are merged in
sample order into one trace Dataset. With an output path every finished batch is kept as
a shard on disk, so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import signal
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from multiprocessing import get_all_start_methods, get_context

import numpy as np
import xarray as xr
from tqdm import tqdm

from converters.output_paths import check_output_file

from .engines import (
    Engine,
    RunSettings,
    code_digest,
    input_range,
    make_engine,
    out_of_range_counts,
)
from .engines.run_budget import check_run
from .traces import make_traces, package_versions
from .traces.records import BatchRecord, concatenate
from .traces.store import Manifest, ShardStore, digest_inputs, shard_directory

__all__ = ["Emulation", "shard_directory"]


@dataclass(frozen=True)
class _Job:
    """Everything a worker process needs to rebuild the engine (picklable)."""

    net: object
    settings: RunSettings

    @property
    def batch_size(self) -> int:
        return self.settings.batch_size

    def backend(self) -> Engine:
        return make_engine(self.net, self.settings)

    def digest(self) -> str:
        """A hash of the network and every setting, stable across processes."""
        settings = (self.settings.recorded(), str(self.settings.cache_dir))
        return hashlib.sha256(repr((self.net.digest(), settings)).encode()).hexdigest()


class Emulation:
    """Emulate ``net`` (a LoihiNet or an AkidaNet) on a Brian2 device.

    Seed, batch size (1..2**20) and steps per sample (at most 2**24) are checked against
    their ranges, and a batch's memory against what is available, before anything is
    built (:mod:`emu.engines.run_budget`).

    Parameters
    ----------
    net
        The converted network.
    device
        ``"cpp_standalone"`` (default; compiled once per network topology and cached),
        ``"runtime"`` (Brian2's numpy target; slow, no compiler needed),
        ``"cuda_standalone"`` (needs brian2cuda); for a LoihiNet, ``"native"`` (one C++
        engine compiled once per machine, :mod:`emu.engines.loihi_native`; the fastest, no
        build per topology); for an AkidaNet, ``"tensor"`` (exact batched float matrix
        products, :mod:`emu.engines.akida_tensor`; the fastest, no build); for every net,
        ``"reference"`` (the chip's numpy reference, the tests' oracle; slow). Any device
        of :func:`emu.engines.device_names` for the net's target.
    batch_size
        Samples per simulation run.
    cache_dir
        Build cache (default ``$NEUROEMU_CACHE`` or ``~/.cache/neuroemu``, resolved on the
        machine that builds, so every Dask worker machine keeps its own).
    record_events
        Store the sparse spike raster (sample, step, layer, neuron) in the traces.
    probe
        ``{layer: [neuron indices]}`` whose ``u`` and ``v`` are recorded every step
        (stored in the traces as ``u_<layer>``, ``v_<layer>``).
    seed
        Seed of the rate-coded input spikes, 0..2**32 - 1.
    """

    def __init__(
        self,
        net,
        device: str = "cpp_standalone",
        batch_size: int = 128,
        cache_dir: str | os.PathLike | None = None,
        record_events: bool = False,
        probe: dict[str, list[int]] | None = None,
        seed: int = 0,
    ):
        self.settings = RunSettings(
            device=device,
            batch_size=batch_size,
            record_events=record_events,
            probe=probe or {},
            seed=seed,
            cache_dir=cache_dir,
        )
        check_run(net, self.settings)
        self.backend = make_engine(net, self.settings)
        self._net = net

    @property
    def net(self):
        return self._net

    def close(self) -> None:
        """Release what the engine holds (a no-op for engines that hold nothing)."""
        self.backend.close()

    def run_batch(self, samples: np.ndarray) -> BatchRecord:
        """Run one batch (at most ``batch_size`` samples) and return its raw recordings."""
        return self.backend.run_batch(self.backend.encode(samples))

    def run(
        self,
        samples: np.ndarray,
        labels: np.ndarray | None = None,
        workers: int = 1,
        out: str | os.PathLike | None = None,
        progress: bool | None = None,
        scheduler: str | object | None = None,
    ) -> xr.Dataset:
        """Run every sample and return the traces (also written to ``out`` when given).

        Parameters
        ----------
        samples
            Inputs, shape (N, *input shape), values in the network's input range. A
            LoihiNet with spike-train input (``input_encoding="spikes"``) takes per sample
            its events, an (E, 2) array of (step, neuron) rows or a pair of arrays, or
            boolean rasters (N, steps, input size); one compiled build serves every batch.
        labels
            Integer labels (stored with the traces; -1 where absent).
        workers
            Worker processes, each running contiguous batches with its own results directory.
            Must stay 1 with a ``scheduler``, whose cluster decides.
        out
            HDF5 path (absent or a regular file). Finished batches are kept in
            ``<out>.shards/`` until the run completes, and a rerun skips them. The run
            owns ``out`` while it lasts: another run on it is refused (OutputInUseError).
        progress
            Show a progress bar (default: when stderr is a terminal).
        scheduler
            A Dask scheduler address (``"tcp://HOST:PORT"``) or a ``distributed.Client``:
            batches run on that cluster's workers, the traces are gathered here.
        """
        encoded = self.backend.encode(samples)
        self._check_run(len(encoded), labels, workers, scheduler)
        self._outside = self._count_outside(samples)
        n, bs = len(encoded), self.settings.batch_size
        starts = list(range(0, n, bs))
        if out is None:
            records = dict(self._progress(encoded, starts, starts, workers, scheduler, progress))
            return self._traces(concatenate([records[s] for s in starts]), labels, 0)
        store = self._store(check_output_file(out, "out"), encoded, labels, n)
        done = set(store.open())
        try:
            todo = [s for s in starts if s not in done]
            for start, record in self._progress(
                encoded, starts, todo, workers, scheduler, progress
            ):
                store.write(start, self._traces(record, _part(labels, start, len(record)), start))
            return store.finish()
        finally:
            store.close()

    def _progress(
        self, encoded: np.ndarray, starts: list[int], todo: list[int], workers: int,
        scheduler: object, progress: bool | None,
    ) -> Iterator[tuple[int, BatchRecord]]:  # fmt: skip
        """The batches of ``todo`` as they finish, under a progress bar over all ``starts``."""
        show = sys.stderr.isatty() if progress is None else progress
        with tqdm(
            total=len(starts), initial=len(starts) - len(todo), unit="batch",
            desc="emulating", disable=not show,
        ) as bar:  # fmt: skip
            for start, record in self._execute(encoded, todo, workers, scheduler):
                yield start, record
                bar.update(1)

    # --- internals -----------------------------------------------------------------

    def _count_outside(self, samples: np.ndarray) -> np.ndarray:
        """Per-sample counts of values outside the calibrated range, with a warning if any."""
        if getattr(getattr(self.net, "input", None), "encoding", None) == "spikes":
            return np.zeros(len(samples), np.int64)  # spike trains are checked by their raster
        low, high = input_range(self.net)
        outside = out_of_range_counts(samples, low, high)
        if outside.any():
            warnings.warn(
                f"{np.count_nonzero(outside)} of {len(outside)} samples have values outside "
                f"the calibrated input range [{low:g}, {high:g}] ({int(outside.sum())} values, "
                "clipped); the network expects inputs scaled like its calibration data",
                stacklevel=3,
            )
        return outside

    @staticmethod
    def _check_run(n: int, labels, workers: int, scheduler) -> None:
        if n == 0:
            raise ValueError("no samples to run")
        if labels is not None and len(labels) != n:
            raise ValueError(f"{n} samples but {len(labels)} labels")
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        if scheduler is not None and workers != 1:
            raise ValueError(
                f"workers={workers} with a scheduler: the Dask cluster's workers run the batches"
            )

    def _store(self, out, samples: np.ndarray, labels, n: int) -> ShardStore:
        manifest = Manifest(
            total_samples=n,
            chunk_size=self.settings.batch_size,
            net_digest=self.backend.attrs()["net_digest"],
            inputs_digest=digest_inputs(
                np.asarray(samples), None if labels is None else np.asarray(labels)
            ),
            settings=self.settings.recorded(),
            version=package_versions()["neuroemu"],
            engine=self._engine_identity(),
        )
        return ShardStore(out, manifest)

    def _engine_identity(self) -> dict:
        """Digests of the code that computes the traces: the generating modules and any
        native library's source."""
        identity = {"code": code_digest(self.backend)}
        library = getattr(self.backend, "engine", None)
        if getattr(library, "source_digest", None):
            identity["library"] = library.source_digest
        return identity

    def _execute(
        self, encoded: np.ndarray, starts: list[int], workers: int, scheduler: object
    ) -> Iterator[tuple[int, BatchRecord]]:
        bs = self.settings.batch_size
        if scheduler is not None and starts:
            from .distributed import run_batches

            job = _Job(self.net, self.settings)
            yield from run_batches(job, job.digest(), encoded, starts, scheduler)
            return
        if workers == 1 or len(starts) <= 1:
            for s in starts:
                yield s, self.backend.run_batch(encoded[s : s + bs], s)
            return
        if "fork" in get_all_start_methods():
            # forked workers inherit the imported Brian2 and the active build: no start-up
            self.backend.prepare()
            context, initargs = get_context("fork"), (self.backend, os.getpid())
        else:
            context, initargs = get_context("spawn"), (_Job(self.net, self.settings), os.getpid())
        with ProcessPoolExecutor(
            min(workers, len(starts)), mp_context=context, initializer=_start_worker,
            initargs=initargs,
        ) as pool:  # fmt: skip
            futures = {pool.submit(_run_in_worker, s, encoded[s : s + bs]): s for s in starts}
            for future in as_completed(futures):
                yield futures[future], future.result()

    def _traces(self, record: BatchRecord, labels, offset: int) -> xr.Dataset:
        output = self.backend.layer_names()[-1]
        predictions = np.argmax(record.counts[output], axis=1)
        events = (
            dict(zip(("sample", "step", "layer", "neuron"), record.events, strict=True))
            if record.events
            else None
        )
        if events is not None:
            events["sample"] = events["sample"] + offset
        attrs = self.backend.attrs() | {
            "device": self.settings.device,
            "batch_size": self.settings.batch_size,
            "input_range": list(input_range(self.net)),
        }
        return make_traces(
            layers=self.backend.layer_names(),
            counts=record.counts,
            spikes_per_step=record.spikes_per_step,
            output_per_step=record.output_per_step,
            predictions=predictions,
            labels=labels,
            saturation=record.saturation,
            attrs=attrs,
            sample_offset=offset,
            events=events,
            probes=record.probes,
            probe_neurons=self.backend.probe,
            input_out_of_range=self._outside[offset : offset + len(predictions)],
        )


def _part(labels, start: int, n: int) -> np.ndarray | None:
    return None if labels is None else np.asarray(labels)[start : start + n]


_worker_backend: Engine | None = None


def _start_worker(source: Engine | _Job, parent: int) -> None:
    """Worker initializer: end with the parent, then take (or build) the engine."""
    global _worker_backend
    _end_with_parent(parent)
    _worker_backend = source.backend() if isinstance(source, _Job) else source


def _run_in_worker(start: int, encoded: np.ndarray) -> BatchRecord:
    return _worker_backend.run_batch(encoded, start)


def _end_with_parent(parent: int) -> None:
    """Have this process end when ``parent`` does (a parent killed by SIGKILL included)."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
        else:
            if os.getppid() != parent:  # the parent died before prctl took effect
                os._exit(1)
            return
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)
