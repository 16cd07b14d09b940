"""``jsonl``: one JSON object per line — a ``session`` record, then every ``question`` shown and
every ``answer`` given (undone answers included, flagged), in time order."""

from __future__ import annotations

from ..store.base import Store
from ..version import __version__
from .base import Export, Format, iso, jsonl, public_id, session_row
from .registry import register_format


def session_record(row: dict) -> dict:
    return {
        "record": "session",
        "session": public_id(row["id"]),
        "style": row["style"],
        "created_at": iso(row["created_at"]),
        "k": row["k"],
        "episodes": row["episodes"],
        "n_questions": row["n_questions"],
        "status": row["status"],
        "config": row["config"],
        "certificate": row["certificate"],
        "extensions": row["extensions"],
        "edpbrl_version": __version__,
    }


def jsonl_rows(store: Store, sid: str) -> list[dict]:
    row = session_row(store, sid)
    pub = public_id(sid)
    events: list[tuple[float, int, dict]] = []
    for q in store.questions(sid):
        shown = [q["options"][i] for i in q["display_order"]]
        events.append(
            (
                q["shown_at"],
                0,
                {
                    "record": "question",
                    "session": pub,
                    "question_id": q["id"],
                    "index": q["idx"],
                    "episode": q["episode"],
                    "step": q["step"],
                    "slot": q["slot"],
                    "options": q["options"],
                    "display_order": q["display_order"],
                    "shown_options": shown,
                    "seeds": q["seeds"],
                    "shown_at": iso(q["shown_at"]),
                    "times_shown": q["times_shown"],
                },
            )
        )
    for a in store.answers(sid):
        choice = a["choice"]
        events.append(
            (
                a["answered_at"],
                1,
                {
                    "record": "answer",
                    "session": pub,
                    "question_id": a["question_id"],
                    "index": a["idx"],
                    "slot": a["slot"],
                    "action": a["action"],
                    "choice": choice,
                    "position": a["position"],
                    "chosen": a["options"][choice] if choice is not None else None,
                    "options": a["options"],
                    "display_order": a["display_order"],
                    "answered_at": iso(a["answered_at"]),
                    "seconds": a["seconds"],
                    "undone": a["undone_at"] is not None,
                    "undone_at": iso(a["undone_at"]),
                },
            )
        )
    events.sort(key=lambda e: (e[0], e[1]))
    return [session_record(row)] + [e[2] for e in events]


class JsonlFormat(Format):
    """Questions and answers as JSON lines."""

    text = True

    def build(self, store: Store, sid: str, *, personalizer=None) -> Export:
        data = jsonl(jsonl_rows(store, sid))
        return Export(f"edpbrl-{public_id(sid)}.jsonl", "application/x-ndjson", data)


register_format("jsonl", JsonlFormat(), help="questions and answers, one JSON object per line")
