"""A population prior that includes the people who shared their taste.

A person in the web app may let their estimated taste join the population (opt-in, stored per
session: :meth:`~edpbrl.store.Store.set_share`). :func:`prior_from_store` restores each shared
session from the store, takes its estimate θ̂ and adds the direction θ̂ / β₀ (β₀: the prior's
assumed rationality, so that sessions and style files live on one scale) to the members given by
style files; a session's own words (its description typed at the start) are its words, and a
session without words is left out of the own-words fit only.
"""

from __future__ import annotations

import numpy as np

from .embed import embedder_spec
from .errors import EdpbrlError
from .export.base import public_id
from .prior import Prior, fit_prior, member_name
from .replay import restore
from .users import read_style, style_theta


def shared_tastes(store, embedder, *, min_answers: int = 5, progress=None) -> list[dict]:
    """The shared sessions with at least ``min_answers`` answers, restored with ``embedder``:
    ``[{"name", "theta" (d,), "words", "answers"}]`` (θ̂ as estimated, not rescaled).

    Raises EdpbrlError for a session encoded with another encoder than ``embedder``."""
    spec = embedder_spec(embedder)
    sids = store.shared_session_ids()
    out = []
    for i, sid in enumerate(sids):
        if progress is not None:
            progress(i, len(sids), "restoring shared sessions")
        row = store.get_session(sid)
        if row is None or row["config"] is None:
            continue
        used = row["config"].get("embedder")
        if used is not None and used != spec:
            raise EdpbrlError(
                f"session {public_id(sid)} was encoded with {used}, the prior with {spec}: "
                f"use --embedder {used}"
            )
        n = sum(a["action"] == "choose" for a in store.live_answers(sid))
        if n < min_answers:
            continue
        p = restore(store, sid, embedder=embedder)
        out.append(
            {
                "name": f"session {public_id(sid)}",
                "theta": p.fit(),
                "words": row["style"].strip(),
                "answers": n,
            }
        )
    return out


def prior_from_store(store, embedder, *, styles=(), min_answers: int = 5, progress=None, **kw) -> Prior:
    """A prior over the style files ``styles`` and the shared sessions of ``store`` (see the module
    docstring); ``kw`` go to :func:`~edpbrl.prior.fit_prior` (``scale`` is β₀)."""
    scale = float(kw.get("scale", 10.0))
    members = shared_tastes(store, embedder, min_answers=min_answers, progress=progress)
    styles = list(styles)
    if len(styles) + len(members) < 2:
        raise EdpbrlError(
            f"a prior needs at least 2 members: {len(styles)} style files and {len(members)} shared "
            f"sessions with ≥ {min_answers} answers"
        )
    thetas = [style_theta(read_style(s), embedder) for s in styles]
    names = [member_name(s) for s in styles]
    texts = list(names)
    for m in members:
        thetas.append(np.asarray(m["theta"], dtype=np.float64) / scale)
        names.append(m["name"])
        texts.append(m["words"])
    dim = len(thetas[0])
    words = np.zeros((len(texts), dim))
    said = [i for i, t in enumerate(texts) if t]
    if said:
        words[said] = np.asarray(embedder.encode([texts[i] for i in said]), dtype=np.float64)
    return fit_prior(np.stack(thetas), names, embedder=embedder_spec(embedder), words=words, **kw)
