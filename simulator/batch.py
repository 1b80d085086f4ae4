"""Batches of independent jobs (log replays, persona sweeps) on local processes or a Dask
cluster: one code path, results in input order.

``run_jobs(fn, items, workers=N)`` runs ``fn(item)`` for every item: in this process for one
worker, else on a ``dask.distributed.LocalCluster`` of ``N`` single-threaded worker processes
started for the batch; ``scheduler=ADDRESS`` sends the jobs to a running Dask scheduler
instead (``dask scheduler`` and ``dask worker ADDRESS`` on the site's machines). Dask is the
standard engine for Python batch work across machines; nothing here schedules or moves data
itself.

Every worker must run this simulator's version: a worker's result comes back with the
version that made it, and a batch refuses results made by another version (a replay by an
older model would not be the log's). A job that raises on a worker raises here. A progress
bar shows on a terminal (``progress``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TextIO

from simulator import __version__
from simulator.errors import UserError

MAX_WORKERS = 64
CONNECT_TIMEOUT_S = 10


def _versioned(fn, item):
    """Run one job on a worker: (the worker's simulator version, the result)."""
    from simulator import __version__ as version

    return version, fn(item)


def run_jobs(
    fn: Callable,
    items: Sequence,
    *,
    workers: int = 1,
    scheduler: str | None = None,
    progress=None,
) -> list:
    """``[fn(item) for item in items]``, on ``workers`` local processes or the Dask cluster
    at ``scheduler``; ``progress(done)`` is called as jobs finish. ``fn`` must be importable
    by the workers (a module-level function) and its items and results picklable."""
    with Batch(workers=workers, scheduler=scheduler) as batch:
        return batch.map(fn, items, progress=progress)


class Batch:
    """Where a batch's jobs run (a context manager): this process for one local worker, a
    ``LocalCluster`` of ``workers`` processes started for it, or the cluster at
    ``scheduler``. :meth:`map` can be called many times (a long batch goes in chunks, so that
    no more than a chunk of inputs is held at once)."""

    def __init__(self, *, workers: int = 1, scheduler: str | None = None):
        if not 1 <= workers <= MAX_WORKERS:
            raise UserError(
                f"--workers: must be a whole number from 1 to {MAX_WORKERS}, got {workers}"
            )
        self.workers, self.scheduler = workers, scheduler
        self.client = self.cluster = None
        self.done = 0

    def __enter__(self) -> Batch:
        if self.scheduler is None and self.workers == 1:
            return self
        from dask.distributed import Client, LocalCluster

        if self.scheduler is not None:
            try:
                self.client = Client(self.scheduler, timeout=f"{CONNECT_TIMEOUT_S}s")
            except (OSError, TimeoutError, ValueError) as exc:
                raise UserError(
                    f"--scheduler: cannot reach a Dask scheduler at {self.scheduler!r:.80} "
                    f"within {CONNECT_TIMEOUT_S} s ({type(exc).__name__})"
                ) from None
        else:
            self.cluster = LocalCluster(
                n_workers=self.workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                host="127.0.0.1",
            )
            self.client = Client(self.cluster)
        try:
            _check_versions(self.client, self.scheduler)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc) -> None:
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()
        self.client = self.cluster = None

    def map(self, fn: Callable, items: Sequence, *, progress=None) -> list:
        """``[fn(item) for item in items]`` in input order; ``progress(done)`` counts the
        jobs finished over every call of this batch."""
        if self.client is None:
            out = []
            for item in items:
                out.append(fn(item))
                self.done += 1
                if progress:
                    progress(self.done)
            return out
        from dask.distributed import as_completed

        futures = self.client.map(_versioned, [fn] * len(items), list(items), pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        out: list = [None] * len(items)
        for future in as_completed(futures):
            version, result = future.result()
            if version != __version__:
                raise UserError(
                    f"--scheduler: a worker runs vsim {version}, this is {__version__}: its "
                    "results are refused (install the same version on every worker)"
                )
            out[index[future.key]] = result
            self.done += 1
            if progress:
                progress(self.done)
        return out


def _check_versions(client, scheduler: str | None) -> None:
    """Refuse a cluster with no worker, or with a worker of another simulator version."""
    from simulator import __version__ as version

    def worker_version():
        import simulator

        return simulator.__version__

    found = client.run(worker_version)
    if not found:
        raise UserError(f"--scheduler: the scheduler at {scheduler!r:.80} has no workers")
    other = {w: v for w, v in found.items() if v != version}
    if other:
        w, v = next(iter(other.items()))
        raise UserError(
            f"--scheduler: worker {w} runs vsim {v}, this is {version}: its results would be "
            f"refused (install vsim {version} on every worker)"
        )


class Progress:
    """A one-line progress bar on a text stream (``\\r``-redrawn, ≈ 100 updates at most)."""

    def __init__(self, stream: TextIO, total: int, label: str, *, enabled: bool):
        self.stream, self.total, self.label, self.enabled = stream, total, label, enabled
        self._shown = -1

    def update(self, done: int) -> None:
        """Show ``done`` of ``total`` items finished."""
        if not self.enabled or self.total <= 0:
            return
        step = done * 100 // self.total
        if step == self._shown and done != self.total:
            return
        self._shown = step
        filled = done * 30 // self.total
        bar = "#" * filled + "." * (30 - filled)
        self.stream.write(f"\r{self.label} [{bar}] {done}/{self.total}")
        self.stream.flush()

    def close(self) -> None:
        """End the bar's line."""
        if self.enabled and self.total > 0:
            self.stream.write("\n")
            self.stream.flush()

    def __call__(self, done: int) -> None:
        """:meth:`update`, as a batch's ``progress`` callback."""
        self.update(done)


def on_terminal(stream) -> bool:
    """Whether ``stream`` is a terminal (where a progress bar is drawn by default)."""
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())
