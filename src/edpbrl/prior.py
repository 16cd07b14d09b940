"""A Gaussian prior on a person's taste, fitted on a population of tastes and their own words.

With a flat prior θ ~ N(0, I/λ) hundreds of answers go into learning what almost every person
shares. A population prior starts from what earlier people (or written styles) have in common and
spends the questions on the directions in which people differ.

**Units.** A taste *direction* θ* lives in the encoder's space: a style's θ* is the mean of its
sentences' unit embeddings. A person answers K-way questions with the softmax of θᵀx where
θ = β θ* and β is their rationality (how decisive they are). The prior is fitted on directions,

    θ* ~ N(m, Σ*),   Σ* = V diag(v) Vᵀ + σ² I     (low rank + isotropic),

and used on θ with an assumed scale β₀ (``scale``) whose uncertainty ``scale_sd`` runs along the
mean direction:

    θ ~ N(β₀ m, β₀² Σ* + scale_sd² m mᵀ).

**Fitting** (:func:`fit_prior`): m is the population mean; Σ* is the sample covariance shrunk
towards its isotropic part by the Ledoit–Wolf shrinkage of scikit-learn
(``sklearn.covariance.ledoit_wolf_shrinkage``), its eigenvectors from ``sklearn.decomposition.PCA``
— so the shrunk covariance is exactly low-rank + isotropic. ``noise_floor`` keeps the isotropic
variance from vanishing, so a person unlike anyone before can still be learned.

**Own words.** A person's description of their taste, embedded (e, unit norm), moves the mean:

    m(words) = a m + b e + W e,

with (a, b) fitted by leave-one-out least squares on the population, where each member's words are
its name (``fit_prior(..., words=...)``), and W (d, d) a ridge regression of what (a, b) leave
unexplained (each member's θ* − a m₋ⱼ − b eⱼ, m₋ⱼ the mean of the others) on the words' embedding,
its penalty chosen by scikit-learn's efficient leave-one-out (``sklearn.linear_model.RidgeCV``).
The map is opt-in (``words_map=True``; ``edpbrl prior fit --words-map``): it learns how *this*
population's words go with its tastes, which helps people who describe themselves like the
population does and hurts others. Measured (docs/results.md): on the 40 packaged population
members, each predicted from the others, it lowers the zero-question preference error from 0.128
to 0.112; on the paper's three styles, written by other authors, it raises it on two of three.
Fit it on a population of the people being asked (``--db``), not on written styles.

**No leakage.** :meth:`Prior.without` refits the prior without the members of a given name, so a
style is never evaluated with itself in its prior.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .errors import EdpbrlError

FORMAT = "edpbrl-prior/1"


def member_name(name: str) -> str:
    """A comparable name: ``paper:`` prefix and file suffix dropped, ``_``/``-`` as spaces, lower case."""
    text = str(name)
    if text.startswith("paper:"):
        text = text[len("paper:") :]
    text = Path(text).stem if text.endswith(".txt") or "/" in text else text
    return re.sub(r"[\s_\-]+", " ", text).strip().lower()


@dataclass(frozen=True)
class Prior:
    """A Gaussian prior on taste directions (see the module docstring). Arrays are float64.

    Attributes:
        mean: m (d,), the prior mean direction (population mean, or moved by own words).
        components: V (r, d), orthonormal rows; variances: v (r,) ≥ 0 along them.
        noise: σ² > 0, the isotropic variance.
        embedder: the encoder spec the vectors live in (checked against the session's).
        names, population, words: the members (n,), their θ* (n, d) and word embeddings
            (n, d) or None — kept so that :meth:`without` can refit.
        mean_weight, words_weight: (a, b) of the own-words mean a m + b e + W e.
        words_map: W (d, d) or None (no map); words_alpha: its ridge penalty.
        scale, scale_sd: β₀ and its uncertainty (θ = β θ*).
        left_out: names removed by :meth:`without` (recorded in results).
    """

    mean: np.ndarray
    components: np.ndarray
    variances: np.ndarray
    noise: float
    embedder: str
    names: tuple[str, ...]
    population: np.ndarray
    words: np.ndarray | None = None
    mean_weight: float = 1.0
    words_weight: float = 0.0
    scale: float = 10.0
    scale_sd: float = 5.0
    noise_floor: float = 0.0
    n_components: int | None = None
    left_out: tuple[str, ...] = field(default=())
    words_map: np.ndarray | None = None
    words_alpha: float | None = None
    fit_words_map: bool = False

    @property
    def dim(self) -> int:
        return int(self.mean.shape[0])

    # -- the distribution on θ* --------------------------------------------------------------------
    def covariance(self) -> np.ndarray:
        """Σ* (d, d) = Vᵀ diag(v) V + σ² I, in direction units."""
        V = self.components
        return (V.T * self.variances) @ V + self.noise * np.eye(self.dim)

    # -- the distribution on θ (what the estimator and the designs use) --------------------------------
    def theta_mean(self) -> np.ndarray:
        """β₀ m (d,): the prior mean of θ."""
        return self.scale * self.mean

    def theta_factors(self) -> tuple[float, np.ndarray]:
        """(c, B) with Cov(θ) = c I + B Bᵀ, B (d, r + 1)."""
        c = self.scale**2 * self.noise
        B = np.concatenate(
            [(self.scale * self.components.T * np.sqrt(self.variances)), self.scale_sd * self.mean[:, None]],
            1,
        )
        return c, B

    def theta_covariance(self) -> np.ndarray:
        c, B = self.theta_factors()
        return c * np.eye(self.dim) + B @ B.T

    def theta_precision(self) -> np.ndarray:
        """Cov(θ)⁻¹ (d, d) by the Woodbury identity: (1/c)(I − B (cI + BᵀB)⁻¹ Bᵀ)."""
        c, B = self.theta_factors()
        inner = c * np.eye(B.shape[1]) + B.T @ B
        P = (np.eye(self.dim) - B @ np.linalg.solve(inner, B.T)) / c
        return 0.5 * (P + P.T)

    # -- variants ----------------------------------------------------------------------------------
    def with_words(self, embedding: np.ndarray | None) -> Prior:
        """The prior given a person's own words (their unit embedding (d,)); None: unchanged."""
        if embedding is None:
            return self
        e = np.asarray(embedding, dtype=np.float64).ravel()
        if e.shape != (self.dim,) or not np.isfinite(e).all():
            raise EdpbrlError(f"the words' embedding must be a finite vector ({self.dim},), got {e.shape}")
        mean = self.mean_weight * self.mean + self.words_weight * e
        if self.words_map is not None:
            mean = mean + self.words_map @ e
        return replace(self, mean=mean)

    def with_scale(self, scale: float, scale_sd: float | None = None) -> Prior:
        """The same prior for people answering with rationality ``scale`` (β₀)."""
        if not (np.isfinite(scale) and scale > 0):
            raise EdpbrlError(f"the prior's scale must be > 0, got {scale}")
        return replace(self, scale=float(scale), scale_sd=float(scale / 2 if scale_sd is None else scale_sd))

    def without(self, name: str) -> Prior:
        """The prior refitted without the members called ``name`` (compared by :func:`member_name`);
        unchanged when there are none. ``left_out`` records what was removed."""
        key = member_name(name)
        keep = [i for i, n in enumerate(self.names) if member_name(n) != key]
        if len(keep) == len(self.names):
            return self
        if len(keep) < 2:
            raise EdpbrlError(f"leaving out {name!r} leaves fewer than 2 members in the prior")
        out = fit_prior(
            self.population[keep],
            [self.names[i] for i in keep],
            embedder=self.embedder,
            words=None if self.words is None else self.words[keep],
            n_components=self.n_components,
            noise_floor=self.noise_floor,
            scale=self.scale,
            scale_sd=self.scale_sd,
            words_map=self.fit_words_map,
        )
        removed = tuple(n for n in self.names if member_name(n) == key)
        return replace(out, left_out=self.left_out + removed)

    # -- files -------------------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write a ``.npz`` (arrays + JSON metadata; loads without pickles)."""
        path = Path(path)
        meta = {
            "format": FORMAT,
            "embedder": self.embedder,
            "names": list(self.names),
            "noise": self.noise,
            "mean_weight": self.mean_weight,
            "words_weight": self.words_weight,
            "scale": self.scale,
            "scale_sd": self.scale_sd,
            "noise_floor": self.noise_floor,
            "n_components": self.n_components,
            "left_out": list(self.left_out),
            "words_alpha": self.words_alpha,
            "fit_words_map": self.fit_words_map,
        }
        arrays = dict(
            mean=self.mean, components=self.components, variances=self.variances, population=self.population
        )
        if self.words is not None:
            arrays["words"] = self.words
        if self.words_map is not None:
            arrays["words_map"] = self.words_map
        with path.open("wb") as f:
            np.savez(f, meta=np.array(json.dumps(meta)), **arrays)
        return path

    @classmethod
    def load(cls, path: str | Path) -> Prior:
        """A prior written by :meth:`save`; one-line errors for missing or foreign files."""
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"]))
                arrays = {k: np.asarray(z[k], dtype=np.float64) for k in z.files if k != "meta"}
        except FileNotFoundError:
            raise EdpbrlError(f"prior file not found: {path}") from None
        except (OSError, ValueError, KeyError) as exc:
            raise EdpbrlError(f"cannot read prior file {path}: {str(exc).splitlines()[0]}") from None
        if meta.get("format") != FORMAT:
            raise EdpbrlError(f"{path} is not an edpbrl prior (format {meta.get('format')!r})")
        return cls(
            mean=arrays["mean"],
            components=arrays["components"].reshape(-1, arrays["mean"].shape[0]),
            variances=arrays["variances"],
            noise=float(meta["noise"]),
            embedder=meta["embedder"],
            names=tuple(meta["names"]),
            population=arrays["population"],
            words=arrays.get("words"),
            mean_weight=float(meta["mean_weight"]),
            words_weight=float(meta["words_weight"]),
            scale=float(meta["scale"]),
            scale_sd=float(meta["scale_sd"]),
            noise_floor=float(meta.get("noise_floor", 0.0)),
            n_components=meta.get("n_components"),
            left_out=tuple(meta.get("left_out", ())),
            words_map=arrays.get("words_map"),
            words_alpha=meta.get("words_alpha"),
            fit_words_map=bool(meta.get("fit_words_map", "words_map" in arrays)),
        )

    def describe(self, top: int = 5) -> dict:
        """Sizes and the spread of the prior, for ``edpbrl prior show``."""
        total = float(self.variances.sum() + self.noise * self.dim)
        share = np.sort(self.variances)[::-1][:top] / max(total, 1e-300)
        return {
            "embedder": self.embedder,
            "dim": self.dim,
            "members": len(self.names),
            "names": list(self.names),
            "left_out": list(self.left_out),
            "components": int(self.components.shape[0]),
            "isotropic_variance": self.noise,
            "total_variance": total,
            "top_component_shares": [float(s) for s in share],
            "mean_norm": float(np.linalg.norm(self.mean)),
            "words_weight": self.words_weight,
            "mean_weight": self.mean_weight,
            "words_map": self.words_map is not None,
            "words_alpha": self.words_alpha,
            "scale": self.scale,
            "scale_sd": self.scale_sd,
        }


def fit_prior(
    thetas,
    names,
    *,
    embedder: str,
    words=None,
    n_components: int | None = None,
    noise_floor: float = 0.0,
    scale: float = 10.0,
    scale_sd: float = 5.0,
    words_map: bool = False,
) -> Prior:
    """Fit a :class:`Prior` on a population of taste directions.

    Args:
        thetas: (n, d) the members' θ* (n ≥ 2).
        names: n names (styles' names; sessions' ids).
        embedder: the encoder spec the vectors live in.
        words: optional (n, d) unit embeddings of each member's own words (e.g. its name), to fit
            the own-words weights by leave-one-out least squares; a zero row is a member without
            words (left out of that fit).
        n_components: the rank r of the covariance's low-rank part (default min(n − 1, d)).
        noise_floor: a lower bound on the isotropic variance σ².
        scale, scale_sd: β₀ and its uncertainty.
        words_map: also fit the ridge map W of the words (needs ≥ 3 members with words; see the
            module docstring for when it helps).
    """
    from sklearn.covariance import ledoit_wolf_shrinkage
    from sklearn.decomposition import PCA

    X = np.asarray(thetas, dtype=np.float64)
    names = tuple(str(n) for n in names)
    if X.ndim != 2 or X.shape[0] < 2:
        raise EdpbrlError(f"a prior needs at least 2 members (n, d), got shape {X.shape}")
    if len(names) != X.shape[0]:
        raise EdpbrlError(f"{len(names)} names for {X.shape[0]} members")
    if not np.isfinite(X).all():
        raise EdpbrlError("the population contains NaN or infinite values")
    n, d = X.shape
    mean = X.mean(0)
    r = min(n - 1, d) if n_components is None else int(n_components)
    if not 1 <= r <= min(n - 1, d):
        raise EdpbrlError(f"n_components must be in 1..{min(n - 1, d)}, got {n_components}")
    pca = PCA(n_components=r, svd_solver="full").fit(X)
    ev = pca.explained_variance_ * (n - 1) / n  # the maximum-likelihood covariance's eigenvalues
    alpha = float(ledoit_wolf_shrinkage(X - mean, assume_centered=True))
    total = float(((X - mean) ** 2).sum() / n)  # tr S
    noise = max(alpha * total / d, float(noise_floor), 1e-12)
    mean_weight, words_weight = 1.0, 0.0
    W = None
    W_map, alpha_map = None, None
    if words is not None:
        W = np.asarray(words, dtype=np.float64)
        if W.shape != X.shape or not np.isfinite(W).all():
            raise EdpbrlError(f"words must be finite embeddings of shape {X.shape}, got {W.shape}")
        has = np.linalg.norm(W, axis=1) > 0  # a zero row: a member without words (a session)
        if has.sum() >= 2:
            others = (mean[None] * n - X) / (n - 1)  # each member's leave-one-out population mean
            A = np.stack([others[has].ravel(), W[has].ravel()], 1)
            (mean_weight, words_weight), *_ = np.linalg.lstsq(A, X[has].ravel(), rcond=None)
            if words_map and has.sum() >= 3:
                R = X[has] - mean_weight * others[has] - words_weight * W[has]
                W_map, alpha_map = _fit_words_map(W[has], R)
    return Prior(
        mean=mean,
        components=pca.components_.astype(np.float64),
        variances=(1 - alpha) * ev,
        noise=noise,
        embedder=str(embedder),
        names=names,
        population=X,
        words=W,
        mean_weight=float(mean_weight),
        words_weight=float(words_weight),
        scale=float(scale),
        scale_sd=float(scale_sd),
        noise_floor=float(noise_floor),
        n_components=n_components,
        words_map=W_map,
        words_alpha=alpha_map,
        fit_words_map=bool(words_map),
    )


WORDS_MAP_ALPHAS = tuple(float(a) for a in np.logspace(-3, 3, 13))


def _fit_words_map(E: np.ndarray, R: np.ndarray) -> tuple[np.ndarray, float]:
    """W (d, d) with R ≈ E Wᵀ, by ridge regression whose penalty is chosen from
    :data:`WORDS_MAP_ALPHAS` by efficient leave-one-out (scikit-learn's ``RidgeCV``); E (n, d) the
    members' words, R (n, d) what the two-weight mean leaves unexplained."""
    from sklearn.linear_model import RidgeCV

    ridge = RidgeCV(alphas=WORDS_MAP_ALPHAS, fit_intercept=False).fit(E, R)
    return np.asarray(ridge.coef_, dtype=np.float64).reshape(R.shape[1], E.shape[1]), float(ridge.alpha_)


# -- sources of a prior ---------------------------------------------------------------------------------
def population_style_files() -> list[Path]:
    """The packaged styles and the packaged training population (``data/population``), sorted."""
    from importlib import resources

    root = Path(str(resources.files("edpbrl") / "data"))
    return sorted((root / "styles").glob("*.txt")) + sorted((root / "population").glob("*.txt"))


def prior_from_styles(styles, embedder, **kw) -> Prior:
    """Fit a prior on style sentence files (paths or packaged names), each member's own words being
    its name (file stem, ``_`` as spaces). ``kw`` go to :func:`fit_prior`."""
    from .users import read_style, theta_of_embeddings

    styles = list(styles)
    if len(styles) < 2:
        raise EdpbrlError(f"a prior needs at least 2 styles, got {len(styles)}")
    sentences = [read_style(s) for s in styles]
    names = [member_name(s) for s in styles]
    # one encoder call for every sentence and name: an encoder with a disk cache for large calls
    # (the app's) then serves the whole fit from disk after a restart, without loading its model
    E = np.asarray(embedder.encode([t for ss in sentences for t in ss] + names), dtype=np.float64)
    ends = np.cumsum([len(ss) for ss in sentences])
    thetas = np.stack([theta_of_embeddings(E[e - len(ss) : e]) for ss, e in zip(sentences, ends)])
    words = E[ends[-1] :]
    spec = _encoder_spec(embedder) or getattr(embedder, "name", "custom")
    return fit_prior(thetas, names, embedder=spec, words=words, **kw)


def _encoder_spec(embedder) -> str | None:
    """The :func:`~edpbrl.embed.load_embedder` spec of ``embedder``, looking through wrappers
    that hold it as ``inner`` (a server's shared encoder); None for a caller's own object."""
    from .embed import embedder_spec

    inner = embedder
    while inner is not None:
        try:
            return embedder_spec(inner)
        except EdpbrlError:
            inner = getattr(inner, "inner", None)
    return None


_PACKAGED: dict = {}
_PACKAGED_LOCK = threading.Lock()


def packaged_prior(embedder) -> Prior:
    """The prior fitted on every packaged style and the packaged population (cached per encoder;
    one thread fits it, concurrent callers wait for that one instead of fitting it again).

    For the package's own encoders the fit is also kept on disk, in the embedding cache
    directory (``$EDPBRL_CACHE_DIR``, see :func:`edpbrl.embed.default_cache_dir`) under a name
    made of the encoder's name and a hash of the style files, of the fitting code and of
    scikit-learn's version: a restarted server loads it in milliseconds instead of encoding 1,000
    sentences and importing scikit-learn before it can restore its first session. An unreadable
    file is refitted."""
    key = getattr(embedder, "name", id(embedder))
    with _PACKAGED_LOCK:
        if key not in _PACKAGED:
            path = _packaged_prior_path(embedder)
            prior = None
            if path is not None and path.is_file():
                try:
                    prior = Prior.load(path)
                except EdpbrlError:
                    prior = None
            if prior is None:
                prior = prior_from_styles(population_style_files(), embedder)
                if path is not None:
                    _write_quietly(prior, path)
            _PACKAGED[key] = prior
        return _PACKAGED[key]


def _packaged_prior_path(embedder) -> Path | None:
    """The disk file of the packaged prior for ``embedder``; None for encoders without a spec
    of their own (a caller's object: its name need not identify its vectors)."""
    import hashlib
    from importlib.metadata import version

    from .embed import default_cache_dir

    if _encoder_spec(embedder) is None:
        return None
    h = hashlib.sha256(f"{embedder.name}\x00scikit-learn {version('scikit-learn')}".encode())
    for f in population_style_files():
        h.update(f.name.encode() + b"\x00" + f.read_bytes())
    for module in ("prior.py", "users.py"):  # the fitting code: a changed fit is a new file
        h.update((Path(__file__).parent / module).read_bytes())
    return default_cache_dir() / "priors" / f"packaged-{h.hexdigest()[:32]}.npz"


def _write_quietly(prior: Prior, path: Path) -> None:
    """Save ``prior`` to ``path`` atomically (a temporary file, then a rename); a directory that
    cannot be written only means no disk copy."""
    import os
    import tempfile

    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz.tmp")
        os.close(fd)
        prior.save(tmp)
        os.replace(tmp, path)
    except OSError:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


PRIOR_CHOICES = ("none", "packaged")


def resolve_prior(spec, embedder) -> Prior | None:
    """``None``/"none" → no prior (the flat λI); "packaged" → :func:`packaged_prior`; a path → a
    saved prior; a :class:`Prior` as is. The prior must live in the session's encoder space."""
    if spec is None or (isinstance(spec, str) and spec == "none"):
        return None
    if isinstance(spec, Prior):
        prior = spec
    elif isinstance(spec, str) and spec == "packaged":
        prior = packaged_prior(embedder)
    elif isinstance(spec, str | Path):
        prior = Prior.load(spec)
    else:
        raise EdpbrlError(f"prior must be 'none', 'packaged', a file or a Prior, got {type(spec).__name__}")
    dim = int(embedder.dim)
    if prior.dim != dim:
        raise EdpbrlError(f"the prior has dimension {prior.dim} but the session's encoder gives {dim}")
    from .embed import embedder_spec

    try:
        kind = embedder_spec(embedder).split(":")[0]
    except EdpbrlError:
        kind = None
    if kind is not None and prior.embedder.split(":")[0] != kind:
        raise EdpbrlError(
            f"the prior was fitted with the {prior.embedder!r} encoder, the session uses {kind!r}"
        )
    return prior
