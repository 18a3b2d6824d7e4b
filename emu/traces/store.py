"""The on-disk store of a long run: per-batch trace shards, their manifest, merge and lazy open.

Layout of the shard directory of a run writing ``<run>.h5``::

    <run>.h5.shards/
        manifest.json             the run (network, inputs, settings) and each shard's checksum
        shard_<first>_<last>.h5   a trace file of samples first..last (inclusive, global
                                  indices, 8 digits; the ``sample`` coordinate holds them)

The manifest is JSON: ``total_samples``, ``chunk_size`` (samples per shard),
``net_digest``, ``inputs_digest`` (samples and labels), ``settings`` (every run setting
that changes a recording), ``version`` (of neuroemu), ``engine`` (digests of the code
that computes the traces) and ``shards`` (file name -> SHA-256). One run owns the
directory and the output for its life (:mod:`emu.traces.output_lock`); a directory without a
manifest is not the project's and is refused, never emptied. A shard and then the
manifest naming its checksum are each written through a temporary file renamed into
place, so a killed run leaves whole shards, a manifest that vouches for them, and at most
some ``.part`` leftovers, which a rerun removes. A full disk stops the run with an OSError
before the shard that would not fit; the finished shards stay for the rerun. The merge
checks every shard against the manifest first.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import xarray as xr

from converters.chips.tree import hash_arrays

from .bounds import check_declared_sizes
from .dataset import TraceFormatError, check_format, load_traces, save_traces
from .output_lock import OutputLock

__all__ = [
    "MANIFEST",
    "Manifest",
    "ShardStore",
    "digest_inputs",
    "file_checksum",
    "merge_shards",
    "open_lazy",
    "open_shards",
    "shard_directory",
    "shard_name",
]

MANIFEST = "manifest.json"
_SHARD_RE = re.compile(r"^shard_(\d+)_(\d+)\.h5$")
_SAMPLE_CHUNK = 1024
_EVENT_CHUNK = 1 << 22
_MANIFEST_RESERVE = 1 << 16  # room kept for the manifest naming the shard

log = logging.getLogger(__name__)


def shard_directory(out: str | os.PathLike) -> Path:
    """Where a run writing ``out`` keeps its per-batch shards: ``<out>.shards/``."""
    out = Path(out)
    return out.with_name(out.name + ".shards")


def shard_name(first: int, last: int) -> str:
    """File name of the shard of samples ``first..last`` (inclusive)."""
    return f"shard_{first:08d}_{last:08d}.h5"


def file_checksum(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def digest_inputs(samples: np.ndarray, labels: np.ndarray | None) -> str:
    """SHA-256 of the samples and labels of a run (dtype, shape and values)."""
    h = hash_arrays(hashlib.sha256(), samples, np.zeros(0) if labels is None else labels)
    h.update(b"labels" if labels is not None else b"no labels")
    return h.hexdigest()


@dataclass
class Manifest:
    """What a shard directory holds: the run it belongs to and its shards' checksums."""

    total_samples: int
    chunk_size: int
    net_digest: str
    inputs_digest: str
    settings: dict
    version: str
    engine: dict
    shards: dict[str, str] = field(default_factory=dict)

    def identity(self) -> dict:
        """Everything that must agree for a rerun to reuse the shards."""
        return {k: v for k, v in asdict(self).items() if k != "shards"}

    def differences(self, other: dict) -> list[str]:
        """``key: recorded -> requested`` for each identity field that differs from ``other``."""
        ours = _flatten(self.identity())
        theirs = _flatten({k: v for k, v in other.items() if k != "shards"})
        return [
            f"{k}: {theirs.get(k, '(absent)')!r} -> {ours.get(k, '(absent)')!r}"
            for k in sorted(set(ours) | set(theirs))
            if ours.get(k) != theirs.get(k)
        ]


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out |= _flatten(v, f"{prefix}{k}.")
        else:
            out[f"{prefix}{k}"] = v
    return out


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _read_manifest(directory: Path) -> dict:
    path = directory / MANIFEST
    try:
        manifest = json.loads(path.read_text())
        int(manifest["total_samples"])
        int(manifest["chunk_size"])
    except (ValueError, KeyError, TypeError) as err:
        raise TraceFormatError(
            f"{path} is not a shard manifest (needs total_samples and chunk_size): {err}"
        ) from err
    return manifest


def _ranges(directory: Path) -> list[tuple[int, int, Path]]:
    """(first, last, path) of every shard file, in sample order."""
    return sorted(
        (int(m[1]), int(m[2]), p) for p in directory.iterdir() if (m := _SHARD_RE.match(p.name))
    )


class ShardStore:
    """The shard directory of one run, written batch by batch and merged at the end."""

    def __init__(self, out: str | os.PathLike, manifest: Manifest):
        self.out = Path(out)
        self.directory = shard_directory(out)
        self.manifest = manifest
        self.lock = OutputLock(out)

    def open(self) -> list[int]:
        """Lock the output, create or check the directory; return the verified shards' starts.

        Raises OutputInUseError when another run holds the output, and ValueError naming
        what differs when the directory holds another run's shards (another version or
        engine included) or was not made by a run. Shards that are damaged or that the
        manifest does not vouch for are removed (their batches run again), and so are
        ``.part`` leftovers.
        """
        self.lock.acquire()
        try:
            return self._open()
        except BaseException:
            self.lock.release()
            raise

    def close(self) -> None:
        """Give up the output (the shards stay for a rerun)."""
        self.lock.release()

    def _open(self) -> list[int]:
        if self.directory.is_dir() and not (self.directory / MANIFEST).exists():
            if any(self.directory.iterdir()):
                raise ValueError(
                    f"{self.directory} exists and was not made by a neuroemu run (it has no "
                    f"{MANIFEST}); move it away or choose another output"
                )
        elif self.directory.exists() and not self.directory.is_dir():
            raise ValueError(f"{self.directory} exists and is not a shard directory")
        if (self.directory / MANIFEST).exists():
            try:
                previous = json.loads((self.directory / MANIFEST).read_text())
            except ValueError:
                previous = {}
            if not isinstance(previous, dict):
                previous = {}
            differs = self.manifest.differences(previous)
            if differs:
                raise ValueError(
                    f"{self.directory} holds shards of a different run ({'; '.join(differs)}); "
                    "remove it or choose another output"
                )
            self.manifest.shards = dict(previous.get("shards", {}))
        self.directory.mkdir(parents=True, exist_ok=True)
        for leftover in self.directory.glob(".*.part"):
            leftover.unlink(missing_ok=True)
        done = [first for first, _, path in _ranges(self.directory) if self._verified(path)]
        self._save_manifest()
        return done

    def _verified(self, path: Path) -> bool:
        expected = self.manifest.shards.get(path.name)
        if expected is not None and file_checksum(path) == expected:
            return True
        reason = "is damaged" if expected is not None else "has no recorded checksum"
        log.warning("shard %s %s; its samples run again", path, reason)
        path.unlink()
        self.manifest.shards.pop(path.name, None)
        return False

    def _save_manifest(self) -> None:
        _write_atomic(self.directory / MANIFEST, json.dumps(asdict(self.manifest), indent=1))

    def path(self, first: int) -> Path:
        return self.directory / shard_name(first, self._last(first))

    def write(self, first: int, traces: xr.Dataset) -> None:
        """Write the shard of samples from ``first`` and record its checksum.

        Refused with an OSError before writing when the disk cannot hold twice the largest
        shard so far; a failed write leaves the finished shards and their manifest intact.
        """
        path = self.path(first)
        written = [p.stat().st_size for p in self.directory.glob("shard_*.h5")]
        free = shutil.disk_usage(self.directory).free
        if written and free < 2 * max(written) + _MANIFEST_RESERVE:
            raise self._disk_error(path, errno.ENOSPC, f"only {free} bytes free")
        try:
            save_traces(traces, path)
            self.manifest.shards[path.name] = file_checksum(path)
            self._save_manifest()
        except (OSError, RuntimeError) as err:  # HDF5 reports a full disk as either
            self.manifest.shards.pop(path.name, None)
            path.unlink(missing_ok=True)
            raise self._disk_error(path, getattr(err, "errno", None), str(err)) from None

    def _disk_error(self, path: Path, code: int | None, reason: str) -> OSError:
        kept = len(self.manifest.shards)
        return OSError(
            code or errno.EIO,
            f"cannot write {path} ({reason.splitlines()[0] if reason else 'write failed'}); "
            f"the {kept} finished shards in {self.directory} are kept: free space and rerun "
            "to resume",
        )

    def finish(self) -> xr.Dataset:
        """Check and merge every shard into the output file, remove the shards, return the traces.

        Raises TraceFormatError, keeping every file, when the manifest on disk is not this
        run's or a shard is missing or does not match its recorded checksum.
        """
        starts = range(0, self.manifest.total_samples, self.manifest.chunk_size)
        self._check_before_merge(starts)
        parts = [load_traces(self.path(s)) for s in starts]
        for s, part in zip(starts, parts, strict=True):
            samples = part["sample"].values
            if len(samples) == 0 or samples[0] != s or samples[-1] != self._last(s):
                raise TraceFormatError(f"{self.path(s)} does not hold samples {s}..{self._last(s)}")
        traces = merge_shards(parts)
        try:
            save_traces(traces, self.out)
        except (OSError, RuntimeError) as err:
            raise self._disk_error(self.out, getattr(err, "errno", None), str(err)) from None
        self._remove_own_files()
        self.close()
        return traces

    def _last(self, first: int) -> int:
        return min(first + self.manifest.chunk_size, self.manifest.total_samples) - 1

    def _check_before_merge(self, starts: range) -> None:
        on_disk = json.loads((self.directory / MANIFEST).read_text())
        differs = self.manifest.differences(on_disk if isinstance(on_disk, dict) else {})
        if differs or on_disk.get("shards") != self.manifest.shards:
            raise TraceFormatError(
                f"{self.directory / MANIFEST} no longer describes this run "
                f"({'; '.join(differs) or 'other shards'}); nothing was merged, rerun to check"
            )
        for s in starts:
            path = self.path(s)
            expected = self.manifest.shards.get(path.name)
            if expected is None or not path.exists() or file_checksum(path) != expected:
                raise TraceFormatError(
                    f"{path} is missing or does not match its recorded checksum; nothing was "
                    "merged, rerun to recompute it"
                )

    def _remove_own_files(self) -> None:
        """Remove the manifest, shards and leftovers; the directory too unless others remain."""
        for entry in self.directory.iterdir():
            if (
                entry.name == MANIFEST
                or _SHARD_RE.match(entry.name)
                or entry.name.endswith(".part")
            ):
                entry.unlink()
        try:
            self.directory.rmdir()
        except OSError:
            log.warning("%s holds files no run wrote; left in place", self.directory)


def merge_shards(parts: Sequence[xr.Dataset]) -> xr.Dataset:
    """Join shards in sample order: per-sample variables, summed saturation, then events."""
    per_sample = [v for v in parts[0].data_vars if "sample" in parts[0][v].dims]
    traces = xr.concat([p[per_sample] for p in parts], dim="sample", coords="minimal")
    traces["saturation"] = sum(p["saturation"] for p in parts)
    if "event_sample" in parts[0]:
        names = [f"event_{k}" for k in ("sample", "step", "layer", "neuron")]
        traces = traces.merge(xr.concat([p[names] for p in parts], dim="event"))
    traces.attrs = dict(parts[0].attrs)
    return traces


def open_lazy(path: Path) -> xr.Dataset:
    """One trace file, checked, as dask arrays of a few large chunks (metadata read only)."""
    if not path.exists():
        raise FileNotFoundError(f"trace file {path} does not exist")
    check_declared_sizes(path)
    try:
        ds = xr.open_dataset(path, engine="h5netcdf", phony_dims="access")
    except Exception as err:  # h5py/h5netcdf raise several unrelated types for a bad file
        raise TraceFormatError(f"{path} is not a readable HDF5 trace file: {err}") from err
    check_format(ds, str(path))
    chunks = {"sample": _SAMPLE_CHUNK}
    if "event" in ds.dims:
        chunks["event"] = _EVENT_CHUNK
    return ds.chunk(chunks)


def open_shards(directory: Path) -> tuple[xr.Dataset, int, list[list[int]]]:
    """The finished shards of ``directory`` joined lazily, the run's total and its gaps."""
    if not (directory / MANIFEST).exists():
        raise TraceFormatError(f"{directory} is not a shard directory: it has no {MANIFEST}")
    total = int(_read_manifest(directory)["total_samples"])
    ranges = _ranges(directory)
    if not ranges:
        raise TraceFormatError(f"{directory} holds no finished shard (shard_<first>_<last>.h5)")
    parts = []
    for first, last, p in ranges:
        ds = open_lazy(p)
        samples = ds["sample"].values
        if len(samples) != last - first + 1 or samples[0] != first or samples[-1] != last:
            raise TraceFormatError(
                f"{p.name} should hold samples {first}..{last}, holds {samples[0]}..{samples[-1]}"
            )
        parts.append(ds)
    digests = {ds.attrs.get("net_digest") for ds in parts}
    if len(digests) > 1:
        raise TraceFormatError(f"the shards of {directory} come from different networks {digests}")
    return merge_shards(parts), total, _gaps([(f, la) for f, la, _ in ranges], total)


def _gaps(ranges: Sequence[tuple[int, int]], total: int) -> list[list[int]]:
    gaps, expected = [], 0
    for first, last in ranges:
        if first < expected:
            raise TraceFormatError(f"shards overlap at sample {first}")
        if first > expected:
            gaps.append([expected, first - 1])
        expected = last + 1
    if expected < total:
        gaps.append([expected, total - 1])
    return gaps
