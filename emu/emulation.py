"""The emulation front end: run a converted network on a Brian2 device over many samples.

Samples are split into batches of a fixed size (one compiled binary serves them all),
batches are spread over worker processes when asked, and the recordings are merged in
sample order into one trace Dataset. With an output path every finished batch is kept as
a shard on disk, so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from multiprocessing import get_all_start_methods, get_context
from pathlib import Path

import numpy as np
import xarray as xr

from .records import BatchRecord, concatenate
from .standalone import DEVICES, default_cache_dir
from .traces import load_traces, make_traces, save_traces

__all__ = ["Emulation", "shard_directory"]


def shard_directory(out: str | os.PathLike) -> Path:
    """Where a run writing ``out`` keeps its per-batch shards: ``<out>.shards/``."""
    out = Path(out)
    return out.with_name(out.name + ".shards")


@dataclass
class _Spec:
    """Everything a worker process needs to rebuild the backend."""

    net: object
    device: str
    cache_dir: Path | None  # None: the default cache of the machine that builds
    batch_size: int
    record_events: bool
    probe: dict | None
    seed: int

    def backend(self):
        target = getattr(self.net, "target", None)
        if target == "loihi":
            from .loihi_backend import LoihiBackend as backend_class
        elif target == "akida":
            from .akida_backend import AkidaBackend as backend_class
        else:
            raise TypeError(
                f"cannot emulate a {type(self.net).__name__}; expected a LoihiNet or an AkidaNet"
            )
        kwargs = dict(batch_size=self.batch_size, record_events=self.record_events, seed=self.seed)
        if self.probe:
            kwargs["probe"] = self.probe
        cache_dir = self.cache_dir or default_cache_dir()
        return backend_class(self.net, self.device, cache_dir, **kwargs)

    def digest(self) -> str:
        """A hash of the network and every setting, stable across processes."""
        settings = (
            self.device,
            str(self.cache_dir),
            self.batch_size,
            self.record_events,
            sorted((k, list(map(int, v))) for k, v in (self.probe or {}).items()),
            self.seed,
        )
        return hashlib.sha256(repr((self.net.digest(), settings)).encode()).hexdigest()


class Emulation:
    """Emulate ``net`` (a LoihiNet or an AkidaNet) on a Brian2 device.

    Parameters
    ----------
    net
        The converted network.
    device
        ``"cpp_standalone"`` (default; compiled once per network topology and cached),
        ``"runtime"`` (Brian2's numpy target; slow, no compiler needed) or
        ``"cuda_standalone"`` (needs brian2cuda).
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
        Seed of the rate-coded input spikes.
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
        if device not in DEVICES:
            raise ValueError(f"unknown device {device!r}; choose one of {DEVICES}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.spec = _Spec(
            net,
            device,
            Path(cache_dir) if cache_dir is not None else None,
            batch_size,
            record_events,
            probe,
            seed,
        )
        self.backend = self.spec.backend()

    @property
    def net(self):
        return self.spec.net

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
            Inputs, shape (N, *input shape), values in the network's input range.
        labels
            Integer labels (stored with the traces; -1 where absent).
        workers
            Worker processes, each running contiguous batches with its own results directory.
            Must stay 1 with a ``scheduler``, whose cluster decides.
        out
            HDF5 path. Finished batches are kept in ``<out>.shards/`` until the run
            completes, and a rerun skips them.
        progress
            Show a progress bar (default: when stderr is a terminal).
        scheduler
            A Dask scheduler address (``"tcp://HOST:PORT"``) or a ``distributed.Client``:
            batches run on that cluster's workers, the traces are gathered here.
        """
        encoded = self.backend.encode(samples)
        n = len(encoded)
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
        bs = self.spec.batch_size
        starts = list(range(0, n, bs))
        shards = self._shards(out, n)
        todo = [
            s
            for s in starts
            if shards is None or not _shard_path(shards, s, min(s + bs, n)).exists()
        ]
        show = sys.stderr.isatty() if progress is None else progress
        bar = _progress(len(starts), len(starts) - len(todo), show)
        records: dict[int, BatchRecord] = {}
        for start, record in self._execute(encoded, todo, workers, scheduler):
            if shards is None:
                records[start] = record
            else:
                self._write_shard(shards, start, record, labels)
            bar.update(1)
        bar.close()
        if shards is None:
            merged = concatenate([records[s] for s in starts])
            return self._traces(merged, labels, 0)
        traces = _merge_shards(
            [load_traces(_shard_path(shards, s, min(s + bs, n))) for s in starts]
        )
        save_traces(traces, out)
        for s in starts:
            _shard_path(shards, s, min(s + bs, n)).unlink()
        (shards / "manifest.json").unlink()
        shards.rmdir()
        return traces

    # --- internals -----------------------------------------------------------------

    def _execute(
        self, encoded: np.ndarray, starts: list[int], workers: int, scheduler: object
    ) -> Iterator[tuple[int, BatchRecord]]:
        bs = self.spec.batch_size
        if scheduler is not None and starts:
            from .distributed import run_batches

            yield from run_batches(self.spec, self.spec.digest(), encoded, starts, scheduler)
            return
        if workers == 1 or len(starts) <= 1:
            for s in starts:
                yield s, self.backend.run_batch(encoded[s : s + bs], s)
            return
        if "fork" in get_all_start_methods():
            # forked workers inherit the imported Brian2 and the active build: no start-up
            if self.backend.build is not None:
                self.backend.build.activate()
            context, initializer, initargs = get_context("fork"), _adopt_backend, (self.backend,)
        else:
            context, initializer, initargs = get_context("spawn"), _start_worker, (self.spec,)
        with ProcessPoolExecutor(
            min(workers, len(starts)),
            mp_context=context,
            initializer=initializer,
            initargs=initargs,
        ) as pool:
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
            "device": self.spec.device,
            "batch_size": self.spec.batch_size,
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
            probe_neurons=self.spec.probe,
        )

    def _shards(self, out, n: int) -> Path | None:
        if out is None:
            return None
        shards = shard_directory(out)
        manifest = {
            "total_samples": n,
            "chunk_size": self.spec.batch_size,
            "net_digest": self.backend.attrs()["net_digest"],
        }
        path = shards / "manifest.json"
        if path.exists():
            previous = json.loads(path.read_text())
            if previous != manifest:
                raise ValueError(
                    f"{shards} holds shards of a different run ({previous}); remove it or choose another output"
                )
        shards.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(manifest))
        return shards

    def _write_shard(self, shards: Path, start: int, record: BatchRecord, labels) -> None:
        part_labels = None if labels is None else np.asarray(labels)[start : start + len(record)]
        save_traces(
            self._traces(record, part_labels, start),
            _shard_path(shards, start, start + len(record)),
        )


def _shard_path(shards: Path, first: int, stop: int) -> Path:
    return shards / f"shard_{first:08d}_{stop - 1:08d}.h5"


def _merge_shards(parts: list[xr.Dataset]) -> xr.Dataset:
    """Join shards in sample order: per-sample variables, summed saturation, then events."""
    per_sample = [v for v in parts[0].data_vars if "sample" in parts[0][v].dims]
    traces = xr.concat([p[per_sample] for p in parts], dim="sample", coords="minimal")
    traces["saturation"] = sum(p["saturation"] for p in parts)
    if "event_sample" in parts[0]:
        names = [f"event_{k}" for k in ("sample", "step", "layer", "neuron")]
        traces = traces.merge(xr.concat([p[names] for p in parts], dim="event"))
    traces.attrs = dict(parts[0].attrs)
    return traces


_worker_backend = None


def _start_worker(spec: _Spec) -> None:
    _adopt_backend(spec.backend())


def _adopt_backend(backend) -> None:
    global _worker_backend
    _worker_backend = backend


def _run_in_worker(start: int, encoded: np.ndarray) -> BatchRecord:
    return _worker_backend.run_batch(encoded, start, f"results_{os.getpid()}")


class _NoBar:
    def update(self, _: int) -> None:
        pass

    def close(self) -> None:
        pass


def _progress(total: int, done: int, show: bool):
    if not show:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, initial=done, unit="batch", desc="emulating")
