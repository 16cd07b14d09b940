"""The stopping rule: the posterior's expected preference error against Monte Carlo, the rule's
logic, and a session that stops early when it is sure."""

from __future__ import annotations

import numpy as np
import pytest

from edpbrl import Personalizer
from edpbrl.errors import EdpbrlError
from edpbrl.stopping import StopRule, expected_pair_error, top_probability
from edpbrl.users import LinearUser


def test_expected_error_matches_monte_carlo_over_the_posterior():
    rng = np.random.default_rng(0)
    d, n = 6, 30
    X = rng.normal(size=(n, d))
    theta = rng.normal(size=d)
    A = rng.normal(size=(d, d))
    H = A @ A.T + 0.5 * np.eye(d)
    pairs = rng.integers(n, size=(400, 2))
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    draws = rng.multivariate_normal(theta, np.linalg.inv(H), size=20000)  # θ from the posterior
    D = X[pairs[:, 0]] - X[pairs[:, 1]]
    mc = (np.sign(draws @ D.T) != np.sign(D @ theta)).mean()
    assert expected_pair_error(theta, H, X, pairs) == pytest.approx(mc, abs=0.005)
    top = int(np.argmax(X @ theta))
    beats = (draws @ X[top][:, None] > draws @ np.delete(X, top, 0).T).mean()
    assert top_probability(theta, H, X, top) == pytest.approx(beats, abs=0.005)


def test_rule_logic_and_errors():
    r = StopRule(max_questions=10, target_error=0.1, min_questions=3)
    assert not r.done(2, 0.01) and r.done(3, 0.1) and not r.done(3, 0.2) and r.done(10, 0.4)
    assert StopRule(max_questions=None).done(10**6, 0.0) is False
    for bad in (dict(max_questions=0), dict(target_error=0.6), dict(min_questions=-1)):
        with pytest.raises(EdpbrlError):
            StopRule(**bad)


def test_a_session_stops_when_sure_and_can_ask_more(tiny_vocab_dir):
    rng = np.random.default_rng(3)
    user = LinearUser(rng.normal(size=16) * 3, rationality=30.0, seed=1)
    kw = dict(
        k=3, episodes=40, vocabulary=str(tiny_vocab_dir), embedder="hashing:16", method="ed-pbrl-mixture"
    )
    capped = Personalizer.default(stop=StopRule(max_questions=7), **kw)
    errors = []
    while (q := capped.ask()) is not None:
        errors.append(capped.confidence()["expected_error"])
        capped.tell(q, user.choose(capped.embedder.encode(q.options)))
    assert capped.n_records == 7 and capped.config["stop"]["max_questions"] == 7
    assert errors[0] == pytest.approx(0.5, abs=0.02)  # no answer, flat prior: a coin flip
    assert errors[-1] < errors[0]  # answers make it surer
    capped.ask_more(4)  # two episodes of three questions: the cap rises by six
    assert capped.ask() is not None and capped.stop.max_questions == 13
    assert capped.config["stop"]["max_questions"] == 7 and capped.config["extra_episodes"] == 2
    again = Personalizer.from_config(capped.config)
    assert again.stop == capped.stop and again.n_questions == capped.n_questions
    sure = Personalizer.default(stop=StopRule(max_questions=None, target_error=0.2), **kw)
    while (q := sure.ask()) is not None:
        sure.tell(q, user.choose(sure.embedder.encode(q.options)))
    assert sure.confidence()["expected_error"] <= 0.2 and sure.n_records < sure.n_questions  # stopped early
    again = Personalizer.from_config(sure.config)
    assert again.stop == sure.stop


TAIL = "of 100 pairs of prompts, I expect to rank about {} the way you would (after {})."


@pytest.mark.parametrize(
    "err, n, want",
    [
        (0.05, 30, "Very sure: " + TAIL.format(95, "30 answers")),
        (0.2, 1, "Fairly sure: " + TAIL.format(80, "1 answer")),
        (0.25, 6, "Somewhat sure: " + TAIL.format(75, "6 answers")),
        (0.5, 0, "Not sure yet: " + TAIL.format(50, "0 answers")),
    ],
)
def test_confidence_in_words(err, n, want):
    from edpbrl.stopping import confidence_words

    assert confidence_words(err, n) == want


def test_confidence_in_words_rejects_nonsense():
    from edpbrl.errors import EdpbrlError
    from edpbrl.stopping import confidence_words

    with pytest.raises(EdpbrlError, match=r"^expected_error must be in \[0, 1\], got nan$"):
        confidence_words(float("nan"), 3)


def test_importing_the_command_line_does_not_import_scipy_stats():
    """A restarted server accepts requests only after its imports: SciPy's stats and linalg
    (0.5 s) are imported by the first confidence computation, not by the modules."""
    import subprocess
    import sys

    code = (
        "import sys, edpbrl.cli.main; "
        "print(sorted(m for m in ('scipy.stats', 'scipy.linalg') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
