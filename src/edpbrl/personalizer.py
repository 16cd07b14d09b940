"""The ask/tell loop: a strategy emits questions, answers are recorded, θ̂ is estimated.

>>> p = Personalizer.default(k=4, episodes=50, method="ed-pbrl", seed=0)
>>> while (q := p.ask()) is not None:
...     p.tell(q, choice)            # int in range(K), or None for "no preference"
>>> theta = p.fit()                  # (d,)

Questions are deterministic given the configuration and the sequence of tell/skip/undo calls, so
a session is restored by :meth:`Personalizer.from_config` and replaying its answers.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch

from .choice import confidence_ellipsoid, fit_mle, prior_terms
from .design.criteria import check_criterion
from .device import check_device
from .embed import embedder_spec, load_embedder
from .errors import EdpbrlError, SessionError, short_repr
from .mdp import PromptMDP
from .memory import shared_value
from .prior import Prior, resolve_prior
from .prompts import beam_search, check_theta
from .stopping import StopRule, expected_pair_error, top_probability
from .strategies import Strategy, StrategyContext, check_plan, make_strategy
from .vocab import Vocabulary

FEEDBACK = ("dense", "final")  # dense: one question per slot over prefixes; final: one per episode
# prefixes the beam search for best_prompts encodes per slot (of beam × shortlist = 120), chosen
# by the pooled prediction: on 30 simulated app users (docs/results/app/beam_candidates.py) 8 find
# prompts as good by the people's true taste as the additive rule's 20 did (+0.001 ± 0.003), as
# varied (30 of 30), with 52 prefixes encoded instead of 112; 12 (+0.005) and 20 (+0.0095) find
# better ones at more CPU — on 2 cores at one answer per second 8 is what keeps results under 2 s
BEAM_CANDIDATES = 8
# the prompts shown as a person's result (the app's results page, the θ export): the best n that
# differ pairwise in at least this many slots (the plain top 4 often differ by one word)
RESULT_MIN_DIFF_SLOTS = 2


MAX_EPISODES = 500  # the most episodes one session plans (the demo and the app cap at this)
MAX_PLANNED = 100_000  # the most episodes a personalizer accepts (its plan holds K × H tokens each)


@dataclass(frozen=True)
class Query:
    """One K-way question: ``options`` are K prompt texts (prefixes up to ``step`` when feedback
    is dense). ``index`` is the 0-based position in the question sequence."""

    options: list[str]
    episode: int
    step: int
    slot: str
    index: int


@dataclass
class Record:
    """What happened to a question: ``kind`` is "answer", "tie" (no preference) or "skip".

    ``features`` (K, d) are the options' embeddings of an answer, encoded when an estimate
    first needs them (many answers in one batch), so that telling and replaying cost no encoder
    call; ``None`` until then, and for ties and skips.
    """

    query: Query
    kind: str
    choice: int | None
    features: np.ndarray | None = None


class Personalizer:
    """Chooses questions with a strategy, records answers, estimates the user's taste θ̂."""

    def __init__(
        self,
        vocabulary: Vocabulary,
        embedder,
        *,
        k: int = 4,
        episodes: int = 50,
        method: str = "ed-pbrl",
        seed: int = 0,
        lam: float = 1.0,
        criterion: str = "A",
        feedback: str = "dense",
        device: str = "cpu",
        tol: float = 1e-4,
        progress: Callable | None = None,
        strategy: Strategy | None = None,
        config: dict | None = None,
        prior: Prior | None = None,
        words: str | None = None,
        stop: StopRule | None = None,
    ):
        if isinstance(k, bool) or not isinstance(k, int) or k < 2:
            raise EdpbrlError(f"k must be an integer ≥ 2, got {k!r}")
        if isinstance(episodes, bool) or not isinstance(episodes, int) or not 1 <= episodes <= MAX_PLANNED:
            got = short_repr(episodes)
            raise EdpbrlError(f"episodes must be an integer in 1..{MAX_PLANNED:,}, got {got}")
        check_criterion(criterion)
        device = check_device(device)
        if not (isinstance(lam, int | float) and lam > 0):
            raise EdpbrlError(f"λ must be > 0, got {lam}")
        if feedback not in FEEDBACK:
            raise EdpbrlError(f"feedback must be one of {', '.join(FEEDBACK)}, got {feedback!r}")
        if words is not None and (not isinstance(words, str) or not words.strip()):
            raise EdpbrlError("words must be a non-empty text (the person's description of their taste)")
        if words is not None and prior is None:
            raise EdpbrlError(
                "a person's own words move a prior's mean: give a prior too (e.g. prior='packaged')"
            )
        if prior is not None and not isinstance(prior, Prior):
            raise EdpbrlError(
                f"prior must be a Prior (see edpbrl.prior.resolve_prior), got {type(prior).__name__}"
            )
        small = [(s.name, len(s)) for s in vocabulary.slots if 1 < len(s) < k]
        if small:
            raise EdpbrlError(f"K={k} is larger than slot '{small[0][0]}' ({small[0][1]} entries)")
        self.vocabulary, self.embedder = vocabulary, embedder
        self.k, self.episodes, self.method, self.seed = k, episodes, method, seed
        self.lam, self.criterion, self.feedback, self.device = (
            float(lam),
            criterion,
            feedback,
            device,
        )
        self.config = config or {}
        # one read-only MDP per (encoder object, vocabulary): sessions sharing an encoder share it
        self.mdp = PromptMDP.shared(vocabulary, embedder, device=device)
        self.token_features = [self.mdp.slot_features(h).cpu().numpy() for h in range(vocabulary.horizon)]
        for F in self.token_features:
            F.flags.writeable = False
        self.dim = self.mdp.dim
        if prior is not None and prior.dim != self.dim:
            raise EdpbrlError(f"the prior has dimension {prior.dim} but the encoder gives {self.dim}")
        self.words = words
        self._base_prior, self._worded_prior = prior, None  # (see the prior property)
        precision = None
        if prior is not None:  # the words move the mean only: the precision is the shared prior's
            precision = shared_value(
                f"precision:{device}",
                prior,
                lambda: torch.as_tensor(prior.theta_precision(), dtype=torch.float64, device=device),
            )
        self.strategy = strategy or make_strategy(method, criterion=criterion, tol=tol, device=device)
        self.ctx = StrategyContext(
            self.mdp,
            k,
            episodes,
            self.lam,
            np.random.default_rng(seed),
            progress=progress,
            prior_precision=precision,
            encode=self.embedder.encode,
        )
        self._episodes: list[np.ndarray] = []  # each (K, H)
        # adaptive: the strategy's and the random generator's state before each episode was
        # planned, so that an undo which drops episodes rewinds them (see undo)
        self._before_plan: list[tuple[dict, dict]] = []
        self._questions: list[Query] = []
        self.records: list[Record] = []
        self._version = 0  # bumped by every tell/skip/undo/extend: the key of derived values
        self._derived: dict = {}  # derived values (fit, summary, best prompts) of self._version
        if stop is not None and not isinstance(stop, StopRule):
            raise EdpbrlError(f"stop must be a StopRule, got {type(stop).__name__}")
        self.stop = stop
        self._candidates: tuple[np.ndarray, np.ndarray] | None = None
        if not self.strategy.adaptive:
            self._plan(episodes)

    @property
    def prior(self) -> Prior | None:
        """The prior moved by the person's words (None: the flat λI). The words are encoded on
        first use, by the first estimate, not when the personalizer is built: restoring a session
        after a restart then needs no encoder, whose model may still be loading."""
        if self._base_prior is None:
            return None
        if self._worded_prior is None:
            self._worded_prior = self._base_prior.with_words(self._words_embedding(self.words))
        return self._worded_prior

    def _words_embedding(self, words: str | None) -> np.ndarray | None:
        if words is None:
            return None
        return np.asarray(self.embedder.encode([words.strip()])[0], dtype=np.float64)

    # -- construction ----------------------------------------------------------------------
    @classmethod
    def default(
        cls,
        k: int = 4,
        episodes: int = 50,
        method: str = "ed-pbrl",
        seed: int = 0,
        *,
        vocabulary=None,
        embedder=None,
        device: str = "cpu",
        words: str | None = None,
        prior: str | Path | Prior | None = "none",
        **kwargs,
    ) -> Personalizer:
        """Packaged vocabulary and MiniLM encoder unless given (a path or object for either).

        ``prior``: "none" (the flat λI, the paper's setting), "packaged" (fitted on the packaged
        styles and population), a saved prior file, or a :class:`~edpbrl.prior.Prior`; ``words``:
        the person's own description of their taste, which moves the prior's mean.
        """
        device = check_device(device)
        cfg = {
            "k": k,
            "episodes": episodes,
            "method": method,
            "seed": seed,
            "device": device,
            **{key: v for key, v in kwargs.items() if key not in ("progress", "strategy")},
        }
        if vocabulary is None:
            vocab, cfg["vocabulary"] = Vocabulary.default(), "default"
        elif isinstance(vocabulary, Vocabulary):
            vocab, cfg["vocabulary"] = vocabulary, vocabulary.to_dict()
        else:
            vocab, cfg["vocabulary"] = Vocabulary.load(vocabulary), str(Path(vocabulary).resolve())
        if embedder is None or isinstance(embedder, str):
            cfg["embedder"] = embedder or "minilm"
            emb = load_embedder(cfg["embedder"], device=device)
        else:
            emb = embedder
            try:
                cfg["embedder"] = embedder_spec(embedder)
            except EdpbrlError:
                cfg["embedder"] = getattr(embedder, "name", "custom")
        cfg["words"] = words
        cfg["prior"] = str(prior) if isinstance(prior, str | Path) or prior is None else "object"
        if isinstance(kwargs.get("stop"), StopRule):
            cfg["stop"] = asdict(kwargs["stop"])
        elif isinstance(kwargs.get("stop"), dict):  # from a saved configuration
            kwargs["stop"] = StopRule(**kwargs["stop"])
        return cls(
            vocab,
            emb,
            k=k,
            episodes=episodes,
            method=method,
            seed=seed,
            device=device,
            config=cfg,
            prior=resolve_prior(prior, emb),
            words=words,
            **kwargs,
        )

    @classmethod
    def from_config(cls, config: dict, **kwargs) -> Personalizer:
        """Re-create a personalizer from :attr:`config` (same design, same question sequence)."""
        cfg = dict(config)
        voc = cfg.pop("vocabulary", "default")
        if voc == "default":
            voc = None
        elif isinstance(voc, dict):
            voc = Vocabulary(voc)
        extra = cfg.pop("extra_episodes", 0)
        cfg.update(kwargs)
        if cfg.get("prior") == "object":
            raise EdpbrlError(
                "this session's prior was a Prior object: pass it again (from_config(..., prior=...))"
            )
        p = cls.default(vocabulary=voc, **cfg)
        if extra:
            p.extend(extra)
        return p

    # -- planning --------------------------------------------------------------------------
    def _plan(self, n: int) -> None:
        eps = check_plan(self.strategy.plan(self.ctx, n), self.ctx, n, f"method '{self.method}'")
        for ep in eps:
            e = len(self._episodes)
            self._episodes.append(ep)
            for h, options in self._episode_questions(ep):
                self._questions.append(
                    Query(options, e, h, self.vocabulary.slots[h].name, len(self._questions))
                )

    def _episode_questions(self, ep: np.ndarray) -> list[tuple[int, list[str]]]:
        """The questions an episode (K, H) makes: (slot, K option texts) per question asked."""
        steps = range(self.vocabulary.horizon) if self.feedback == "dense" else [self.vocabulary.horizon - 1]
        out = []
        for h in steps:
            options = [self.vocabulary.prompt(ep[j, : h + 1]) for j in range(self.k)]
            if len(set(options)) > 1:  # all options equal: nothing to learn, not asked
                out.append((h, options))
        return out

    def question_texts(self, episodes: np.ndarray, questions: int | None = None) -> list[str]:
        """Distinct option texts of the first ``questions`` (default: all) questions that the
        episodes (n, K, H) make, in order (e.g. to encode a strategy's question bank at once)."""
        qs = itertools.islice((opts for ep in episodes for _, opts in self._episode_questions(ep)), questions)
        return list(dict.fromkeys(t for opts in qs for t in opts))  # (episodes past the cap: not read)

    @property
    def design(self):
        return getattr(self.strategy, "design", None)

    @property
    def certificate(self) -> dict | None:
        d = self.design
        return None if d is None else d.certificate.to_dict()

    @property
    def n_records(self) -> int:
        """Questions dealt with so far: answers, ties ("no preference") and skips."""
        return len(self.records)

    @property
    def n_answered(self) -> int:
        return sum(r.kind == "answer" for r in self.records)

    @property
    def n_questions(self) -> int:
        if self.strategy.adaptive:
            per = (
                len(self._questions) / max(len(self._episodes), 1)
                if self._episodes
                else (self.vocabulary.horizon if self.feedback == "dense" else 1)
            )
            remaining = self.episodes - len(self._episodes)
            return len(self._questions) + int(round(per * remaining))
        return len(self._questions)

    @property
    def n_to_ask(self) -> int:
        """The questions this session will ask: the planned ones, at most the stop rule's cap
        (fewer when its target error stops it early)."""
        n = self.n_questions
        if self.stop is not None and self.stop.max_questions is not None:
            n = min(n, self.stop.max_questions)
        return n

    @property
    def questions_per_episode(self) -> int:
        return self.vocabulary.horizon if self.feedback == "dense" else 1

    def ask_more(self, questions: int) -> None:
        """Let the person answer at least ``questions`` more: :meth:`extend` by the episodes that
        hold them (with a stop rule, its cap rises by every question those episodes add)."""
        if isinstance(questions, bool) or not isinstance(questions, int) or questions < 1:
            raise EdpbrlError(f"questions must be a positive integer, got {questions!r}")
        self.extend(-(-questions // self.questions_per_episode))

    def candidate_prompts(self, n: int = 200, pairs: int = 2000) -> tuple[np.ndarray, np.ndarray]:
        """Features (n, d) of ``n`` random full prompts from the vocabulary and ``pairs`` random
        pairs (m, 2) of them: what :meth:`confidence` judges. The same for every session on a
        vocabulary (a fixed seed): sessions sharing an MDP share them (read-only)."""
        if self._candidates is None:

            def draw() -> tuple[np.ndarray, np.ndarray]:
                rng = np.random.default_rng(7919)
                slots = self.vocabulary.slots
                texts = list(
                    dict.fromkeys(
                        self.vocabulary.prompt([int(rng.integers(len(s))) for s in slots]) or " "
                        for _ in range(n)
                    )
                )
                X = np.asarray(self.embedder.encode(texts), dtype=np.float64)
                i, j = rng.integers(len(texts), size=(2, pairs))
                keep = i != j
                P = np.stack([i[keep], j[keep]], 1)
                X.flags.writeable = P.flags.writeable = False
                return X, P

            self._candidates = shared_value(f"candidates:{n}:{pairs}", self.mdp, draw)
        return self._candidates

    def confidence(self) -> dict:
        """How sure the estimate is, under its Laplace posterior (:mod:`edpbrl.stopping`):
        ``expected_error`` — the expected share of pairs of random prompts it orders differently
        from the person (½ = a coin flip); ``top_probability`` — the probability that its best
        candidate prompt beats a random other one; ``n_answers``. Cached until the answers change."""

        def compute() -> dict:
            res = self.fit_result()
            X, pairs = self.candidate_prompts()
            theta, H = res.theta.cpu().numpy(), res.hessian.cpu().numpy()
            top = int(np.argmax(X @ theta))
            return {
                "expected_error": expected_pair_error(theta, H, X, pairs),
                "top_probability": top_probability(theta, H, X, top),
                "n_answers": self.n_answered,
            }

        return dict(self._memo("confidence", compute))

    def extend(self, episodes: int) -> None:
        """Plan ``episodes`` more episodes (questions continue after the current ones). With a stop
        rule the person may answer them: its cap rises by the questions they add and its target
        error is dropped (they asked for more). ``config`` keeps the rule as first given, and
        ``extra_episodes``, so that :meth:`from_config` ends in the same state."""
        if isinstance(episodes, bool) or not isinstance(episodes, int) or episodes < 1:
            raise EdpbrlError(f"episodes must be a positive integer, got {short_repr(episodes)}")
        if self.episodes + episodes > MAX_PLANNED:
            raise EdpbrlError(f"at most {MAX_PLANNED:,} episodes in all; {self.episodes} are planned already")
        if self.stop is not None and self.stop.max_questions is not None:
            cap = self.stop.max_questions + episodes * self.questions_per_episode
            self.stop = replace(self.stop, max_questions=cap, target_error=None)
        self.episodes += episodes
        self._changed()
        self.config["extra_episodes"] = self.config.get("extra_episodes", 0) + episodes
        self.ctx.episodes = self.episodes
        if not self.strategy.adaptive:
            self._plan(episodes)

    # -- ask / tell ------------------------------------------------------------------------
    def ask(self) -> Query | None:
        """The next question, or None when the planned episodes are exhausted or the stop rule
        (``stop``) says the estimate is sure enough."""
        if self.stop is not None:
            err = self.confidence()["expected_error"] if self.stop.target_error is not None else None
            if self.stop.done(self.n_records, err):
                return None
        cursor = len(self.records)
        while cursor >= len(self._questions) and len(self._episodes) < self.episodes:
            self._sync_context()
            self._before_plan.append((self.strategy.get_state(), self.ctx.rng.bit_generator.state))
            self._plan(1)
        return self._questions[cursor] if cursor < len(self._questions) else None

    def pending_options(self) -> list[str]:
        """Distinct option texts of the planned questions not yet encoded by :meth:`prefetch`."""
        start = max(getattr(self, "_prefetched", 0), len(self.records))
        return list(dict.fromkeys(t for q in self._questions[start:] for t in q.options))

    def prefetch(self, *encoders) -> int:
        """Encode the options of every planned, unanswered question in one batch with the
        learner's encoder (and any ``encoders`` given, e.g. a simulated user's), so that their
        caches serve tell(); returns the number of texts. Batching matters: one MiniLM call per
        4-option question costs many times more than the same texts in one batch."""
        texts = self.pending_options()
        if texts:
            for enc in (self.embedder, *encoders):
                enc.encode(texts)
        self._prefetched = len(self._questions)
        return len(texts)

    def _check(self, q: Query) -> None:
        cursor = len(self.records)
        if not isinstance(q, Query):
            raise SessionError(f"expected a Query from ask(), got {type(q).__name__}")
        if cursor >= len(self._questions) or self._questions[cursor] != q:
            raise SessionError(
                f"question {q.index} is not the pending question "
                f"(pending: {cursor if cursor < len(self._questions) else 'none'})"
            )

    def tell(self, q: Query, choice: int | None) -> None:
        """Record the user's choice (index into ``q.options``) or None for "no preference"."""
        self._check(q)
        if choice is not None:
            if isinstance(choice, bool) or not isinstance(choice, int | np.integer):
                raise SessionError(f"choice must be an integer in range({self.k}), got {choice!r}")
            if not 0 <= int(choice) < self.k:
                raise SessionError(f"choice {choice} is out of range({self.k})")
        kind = "tie" if choice is None else "answer"
        self.records.append(Record(q, kind, None if choice is None else int(choice)))
        self._changed()

    def skip(self, q: Query) -> None:
        """Move past ``q`` without answering."""
        self._check(q)
        self.records.append(Record(q, "skip", None))
        self._changed()

    def undo(self) -> bool:
        """Remove the last record; the next ask() returns that question again."""
        if not self.records:
            return False
        rec = self.records.pop()
        self._changed()
        if self.strategy.adaptive:  # later episodes were planned from data that no longer holds
            keep = rec.query.episode + 1
            if keep < len(self._episodes):
                # rewind the strategy and its random generator to before episode `keep` was
                # planned: it is planned again exactly as a replay of the remaining answers (a
                # restore) plans it, not from a state advanced by the episodes dropped here
                state, rng_state = self._before_plan[keep]
                self.strategy.set_state(state)
                self.ctx.rng.bit_generator.state = rng_state
                del self._before_plan[keep:]
            self._episodes = self._episodes[:keep]
            self._questions = [q for q in self._questions if q.episode < keep]
        return True

    def _changed(self) -> None:
        self._version += 1
        self._derived.clear()

    def _memo(self, key, compute):
        """``compute()`` once per state of the answers (cleared by every tell/skip/undo/extend)."""
        if key not in self._derived:
            self._derived[key] = compute()
        return self._derived[key]

    def _pending_answers(self) -> list:
        """The answer records whose options have no features yet."""
        return [r for r in self.records if r.kind == "answer" and r.features is None]

    @staticmethod
    def _option_texts(records) -> list[str]:
        return list(dict.fromkeys(t for r in records for t in r.query.options))

    def unencoded_options(self) -> list[str]:
        """Distinct option texts of the answers whose features are not computed yet: what the
        next estimate encodes (a caller may encode them beforehand, e.g. outside a lock, with an
        encoder that keeps rows)."""
        return self._option_texts(self._pending_answers())

    def _encode_pending(self) -> None:
        """Encode the options of every answer that has no features yet, in one batch."""
        pending = self._pending_answers()
        if not pending:
            return
        texts = self._option_texts(pending)
        X = np.asarray(self.embedder.encode(texts), dtype=np.float32)  # (the encoders' precision)
        row = {t: i for i, t in enumerate(texts)}
        for r in pending:
            r.features = X[[row[t] for t in r.query.options]]

    def _answered(self) -> tuple[np.ndarray, np.ndarray]:
        self._encode_pending()
        ans = [r for r in self.records if r.kind == "answer"]
        if not ans:
            return np.zeros((0, self.k, self.dim)), np.zeros(0, dtype=np.int64)
        return np.stack([r.features for r in ans]), np.array([r.choice for r in ans])

    def _sync_context(self) -> None:
        """Bring the strategy's context up to date: the answers and the model fitted on them."""
        X, y = self._answered()
        self.ctx.X, self.ctx.y = list(X), list(y)
        self.ctx.model = self.fit_result() if len(y) or self._base_prior is not None else None
        if self._base_prior is not None and self.ctx.prior_mean is None:  # (the worded prior is kept)
            self.ctx.prior_mean = torch.as_tensor(self.prior.theta_mean(), dtype=torch.float64)

    # -- estimation ------------------------------------------------------------------------
    def fit_result(self):
        """The full :class:`~edpbrl.choice.MLEResult` (cached until the answers change)."""

        def fit():
            X, y = self._answered()
            if self.prior is None:
                res = fit_mle(X, y, self.lam)
            else:  # MAP under the prior on θ: mean β₀ m, precision Cov(θ)⁻¹ (the context's)
                base = self._base_prior  # (the words move the mean only: its covariance is shared)
                factors = shared_value("theta-factors", base, lambda: _torch_factors(base))
                res = fit_mle(
                    X,
                    y,
                    1.0,
                    prior=self.ctx.prior_precision.cpu(),
                    prior_mean=self.prior.theta_mean(),
                    prior_factors=factors,
                )
            return res

        return self._memo("fit", fit)

    def fit(self) -> np.ndarray:
        """θ̂ (d,) — regularised MLE on the answers so far (zeros before any answer).

        Raises EdpbrlError when the estimate is not finite (NaN or infinite features)."""
        theta = self.fit_result().theta.cpu().numpy()
        check_theta(theta, self.dim, "the fitted θ̂")
        return theta

    def score(self, texts) -> np.ndarray:
        """θ̂ᵀx for each prompt text; (n,)."""
        if isinstance(texts, str):
            texts = [texts]
        return np.asarray(self.embedder.encode(list(texts)), dtype=np.float64) @ self.fit()

    def best_prompts(
        self,
        n: int = 4,
        beam: int = 15,
        *,
        shortlist: int = 8,
        candidates: int | None = BEAM_CANDIDATES,
        min_diff_slots: int = 0,
    ) -> list[str]:
        """The n prompts with the highest θ̂ᵀx found by beam search (cached until the answers
        change). ``candidates``: prefixes encoded per slot (see :func:`~edpbrl.prompts.beam_search`;
        ``None`` encodes all ``beam × shortlist``, several times slower); ``min_diff_slots`` ≥ 1
        asks for prompts that differ pairwise in at least that many slots."""

        def search():
            found = beam_search(
                self.fit(),
                self.vocabulary,
                self.embedder,
                n=n,
                beam=beam,
                shortlist=shortlist,
                candidates=candidates,
                token_features=self.token_features,
                min_diff_slots=min_diff_slots,
            )
            return [t for t, _ in found]

        return list(self._memo(("best", n, beam, shortlist, candidates, min_diff_slots), search))

    def summary(self, top: int = 5) -> dict:
        """Per slot the tokens with the highest and lowest θ̂ᵀφ, and the estimate's uncertainty
        (mean posterior standard deviation of θᵀφ over all tokens); cached until the answers
        change (a fresh copy each call)."""
        return copy.deepcopy(self._memo(("summary", top), lambda: self._summary(top)))

    def _summary(self, top: int) -> dict:
        res = self.fit_result()
        theta = res.theta.cpu().numpy()
        slots = []
        for slot, F in zip(self.vocabulary.slots, self.token_features):
            s = F @ theta
            order = np.argsort(-s, kind="stable")
            slots.append(
                {
                    "slot": slot.name,
                    "top": [[slot.entries[i], float(s[i])] for i in order[:top]],
                    "bottom": [[slot.entries[i], float(s[i])] for i in order[::-1][:top]],
                }
            )
        ell = confidence_ellipsoid(res)
        F = self.mdp.features.to(torch.float64)
        terms = None
        if res.prior_factors is not None:  # the prior's part, shared by every session on this prior
            terms = shared_value(
                f"token-prior-terms:{id(self.mdp.features)}",
                self._base_prior,
                lambda: prior_terms(res.prior_factors, F),
            )
        unc = float(ell.std(F, terms).mean())  # every token of every slot
        return {"slots": slots, "uncertainty": unc, "n_answers": self.n_answered}


def _torch_factors(prior: Prior) -> tuple[float, torch.Tensor]:
    """The prior's covariance of θ as (c, B) with Cov = cI + BBᵀ, B a float64 tensor (d, r + 1)."""
    c, B = prior.theta_factors()
    return float(c), torch.as_tensor(B, dtype=torch.float64)
