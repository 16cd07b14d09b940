"""Where the grid runs: in process, a process pool or Ray — the same rows for the same seeds."""

from __future__ import annotations

import sys

import pytest

from edpbrl.cli import main
from edpbrl.errors import EdpbrlError
from edpbrl.experiments.parallel import BACKENDS, ray_session, run_jobs
from edpbrl.experiments.simulate import SimConfig, simulate


def _square(x):
    return x * x


def test_run_jobs_in_order_with_progress():
    ticks = []
    assert run_jobs(_square, [3, 1, 2], on_done=lambda: ticks.append(1)) == [9, 1, 4]
    assert len(ticks) == 3 and BACKENDS == ("process", "ray")
    with pytest.raises(EdpbrlError, match="unknown backend 'dask'"):
        run_jobs(_square, [1], backend="dask")
    with pytest.raises(EdpbrlError, match="an address is for --backend ray"):
        run_jobs(_square, [1], address="ray://head:10001")


def test_without_ray_a_one_line_error_names_the_extra(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    with pytest.raises(EdpbrlError, match=r"pip install 'edpbrl\[ray\]'"):
        run_jobs(_square, [1], backend="ray")
    args = ["simulate", "--style", "sunny", "--method", "random", "--episodes", "1", "--seeds", "1"]
    assert main([*args, "--backend", "ray", "--embedder", "hashing:8", "--no-progress"]) == 2
    assert capsys.readouterr().err.strip().endswith("pip install 'edpbrl[ray]'")
    assert main([*args, "--address", "ray://head:10001", "--embedder", "hashing:8", "--no-progress"]) == 2
    assert "an address is for --backend ray" in capsys.readouterr().err


def _without_seconds(runs):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in runs]


@pytest.mark.slow
def test_ray_gives_the_process_pool_results(tiny_vocab_dir):
    """A tiny grid (2 methods × 2 seeds, hashing encoder) on a local Ray and in a 2-process pool:
    the same runs, in the same order (only the wall-clock ``seconds`` differ)."""
    pytest.importorskip("ray", reason="needs Ray (pip install 'edpbrl[ray]')")
    cfg = SimConfig(vocab=str(tiny_vocab_dir), embedder="hashing:32", k=3, n_test=200, n_choice_tests=50)
    grid = (["sunny"], ["random", "ed-pbrl"], [2, 4], 2, cfg)
    pool = simulate(*grid, workers=2, progress=False)
    try:
        session = ray_session(workers=2)
        ray = session.__enter__()
    except EdpbrlError as exc:  # a sandbox where Ray cannot run: say so
        pytest.skip(f"Ray could not start here: {exc}")
    try:
        assert ray.is_initialized()
        on_ray = simulate(*grid, workers=2, progress=False, backend="ray")
        assert len(on_ray["runs"]) == 2 * 2 * 2
        assert _without_seconds(on_ray["runs"]) == _without_seconds(pool["runs"])
        assert on_ray["results"] == [
            {**r, "seconds": pytest.approx(r["seconds"], abs=1e9)} for r in pool["results"]
        ]
        # a job's own error comes back as itself, as it does from the pool
        bad = SimConfig(vocab=str(tiny_vocab_dir), embedder="hashing:8", world="mars")
        with pytest.raises(EdpbrlError, match="unknown world"):
            simulate(["sunny"], ["random"], [1], 1, bad, progress=False, backend="ray")
    finally:
        session.__exit__(None, None, None)
    assert not ray.is_initialized()
