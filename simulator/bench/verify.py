"""``verify_logs_per_s``: logs verified (signature and full replay) per second of wall time on
1 and 2 local worker processes, over copies of one expert attempt of the default scenario
(distinct trainees, so distinct logs; one case and seed, as a cohort's logs share a few).
The two-worker figure includes starting its local Dask cluster (``verify_cluster_start_s``
says how long that took), as a user's ``verify --workers 2`` pays it."""

from __future__ import annotations

import io
import json
import os
import tempfile
import time
from pathlib import Path

N_LOGS = 4


def bench_verify() -> dict:
    """The figures (logs per second, seconds) as a JSON-safe dict."""
    from simulator.actions import parse_script
    from simulator.bench.cement import DEFAULT_SCENARIO
    from simulator.personas import build
    from simulator.procedure import Procedure
    from simulator.records.log import attempt_log, write_json_atomic
    from simulator.records.verify import run_verify
    from simulator.scenario import load_scenario

    scenario = load_scenario(DEFAULT_SCENARIO)
    script = json.dumps(build(DEFAULT_SCENARIO)["expert"]).encode()
    proc = Procedure(scenario).run(parse_script(script, path="expert"))
    key = b"vsim-bench-key"
    out: dict = {}
    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for i in range(N_LOGS):
            log = attempt_log(
                proc, trainee=f"bench {i}", started_at="2026-01-01T00:00:00+00:00", key=key
            )
            paths.append(str(write_json_atomic(Path(folder) / f"{i}.json", log)))
        os.environ["VSIM_LOG_KEY"] = key.decode()
        try:
            for workers in (1, 2):
                t = time.perf_counter()
                code = run_verify(paths, out=io.StringIO(), err=io.StringIO(), workers=workers)
                wall = time.perf_counter() - t
                if code != 0:
                    raise RuntimeError(f"bench: the copies did not verify (exit {code})")
                out[f"verify_logs_per_s_{workers}_worker{'s' if workers > 1 else ''}"] = round(
                    N_LOGS / wall, 2
                )
            out["verify_cluster_start_s"] = round(_cluster_start_s(), 2)
        finally:
            del os.environ["VSIM_LOG_KEY"]
    return out


def _cluster_start_s() -> float:
    from simulator.batch import Batch

    t = time.perf_counter()
    with Batch(workers=2):
        return time.perf_counter() - t
