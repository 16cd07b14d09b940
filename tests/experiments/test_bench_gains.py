"""The pool-gain benchmark (experiments.bench_gains): its baselines agree with the gains it times,
and bad sizes are one-line errors."""

import pytest
import torch

from edpbrl.design.pool import risk_gains, variance_gains
from edpbrl.errors import EdpbrlError
from edpbrl.experiments.bench_gains import direct_risk_gains, direct_variance_gains, instance, run


def test_direct_forms_equal_the_whitened_gains():
    M, U, C, D = instance(30, 12, 4, seed=3)
    assert torch.allclose(direct_variance_gains(M, U, C), variance_gains(M, U, C), rtol=1e-9, atol=1e-12)
    assert torch.allclose(direct_risk_gains(M, U, C, D), risk_gains(M, U, C, D), rtol=1e-9, atol=1e-12)
    ev = torch.linalg.eigvalsh(D)
    assert ev.min() < 0 < ev.max()  # indefinite, as the strategies form it


def test_run_reports_both_gains_with_agreeing_values():
    rows = run(candidates=20, dim=16, rank=3, repeats=2, threads=1)
    assert [r.gain for r in rows] == ["variance", "risk"]
    assert all(r.max_relative_difference < 1e-10 and r.seconds > 0 and r.direct_seconds > 0 for r in rows)
    assert all(r.speedup == pytest.approx(r.direct_seconds / r.seconds) for r in rows)


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(candidates=0), "candidates must be"),
        (dict(dim=1), "dim must be"),
        (dict(dtype="float16"), "dtype must be"),
    ],
)
def test_bad_sizes_are_one_line_errors(kw, match):
    with pytest.raises(EdpbrlError, match=match):
        run(**{"candidates": 5, "dim": 8, "rank": 2, "repeats": 1, **kw})
