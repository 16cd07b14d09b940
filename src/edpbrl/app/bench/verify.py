"""Check a :class:`~.people.Ledger` against the store: every acknowledged answer is stored, exactly
once, and every session still replays."""

from __future__ import annotations

from collections import Counter
from typing import Any

from ...store import open_store
from .people import Ledger


def verify(store_url: str, ledger: Ledger, *, replay: bool = True, embedder: Any = None) -> dict[str, Any]:
    """Counts: ``acknowledged``, ``stored`` (answer rows of the people's sessions), ``lost``
    (acknowledged but not stored), ``duplicated`` (a question with more than one live answer, or
    live answers out of order), ``stored_not_acknowledged`` (committed, but the response never
    arrived: allowed when the server was killed), undos acknowledged vs flagged, and sessions that
    no longer replay (``replay``: rebuilt with ``edpbrl.replay.restore``)."""
    store = open_store(store_url, create=False)
    rows_by_q: dict[str, list[dict]] = {}
    undone: Counter = Counter()
    stored = duplicated = 0
    for sid in sorted(ledger.sessions):
        rows = store.answers(sid)
        stored += len(rows)
        live_idx = [a["idx"] for a in rows if a["undone_at"] is None]
        if live_idx != list(range(len(live_idx))):
            duplicated += 1  # a repeated or skipped question index: the session would not replay
        for a in rows:
            rows_by_q.setdefault(a["question_id"], []).append(a)
            if a["undone_at"] is not None:
                undone[sid] += 1
    for rows in rows_by_q.values():
        duplicated += max(0, sum(a["undone_at"] is None for a in rows) - 1)
    lost = 0
    matched: Counter = Counter()
    for ack in ledger.acks:
        rows = rows_by_q.get(ack.qid, [])
        hit = [a for a in rows if a["action"] == ack.action and a["position"] == ack.position]
        if not hit:
            lost += 1
        matched[ack.qid] += 1
    acked_rows = sum(min(matched[q], len(r)) for q, r in rows_by_q.items())
    replay_errors: list[str] = []
    if replay:
        from ...replay import restore

        for sid in sorted(ledger.sessions):
            row = store.get_session(sid)
            if row is None or row["config"] is None:
                continue
            try:
                restore(store, sid, embedder=embedder)
            except Exception as exc:  # noqa: BLE001 - reported, not raised
                replay_errors.append(f"{type(exc).__name__}: {str(exc)[:200]}")
    return {
        "sessions": len(ledger.sessions),
        "sent": len(ledger.sent),
        "acknowledged": len(ledger.acks),
        "stored": stored,
        "lost": lost,
        "duplicated": duplicated,
        "stored_not_acknowledged": stored - acked_rows,
        "undos_acknowledged": sum(ledger.undos.values()),
        "undos_stored": sum(undone.values()),
        "replay_errors": replay_errors,
    }
