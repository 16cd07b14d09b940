"""``trl``: TRL's preference layout, one pair per line: ``prompt`` (a fixed instruction naming
the text all options share, if any), ``chosen``, ``rejected`` (full prompt texts). A K-way answer
gives one pair per distinct rejected option; "no preference" and skips give none."""

from __future__ import annotations

from ..store.base import Store
from .base import Export, Format, jsonl, public_id, session_row, shared_text
from .registry import register_format

TRL_INSTRUCTION = "Write a text-to-image prompt."


def trl_prompt(shared: str) -> str:
    """The TRL ``prompt``: a fixed instruction, naming the text all options share (if any)."""
    return f"{TRL_INSTRUCTION} Include: {shared}." if shared else TRL_INSTRUCTION


def trl_rows(store: Store, sid: str) -> list[dict]:
    session_row(store, sid)
    rows = []
    for a in store.live_answers(sid):
        if a["action"] != "choose":
            continue
        opts, c = a["options"], a["choice"]
        prompt = trl_prompt(shared_text(opts))
        for j in a["display_order"]:  # rejected options in the order the person saw them
            if j != c:
                rows.append({"prompt": prompt, "chosen": opts[c], "rejected": opts[j]})
    return rows


class TrlFormat(Format):
    """prompt / chosen / rejected pairs for TRL's preference trainers."""

    text = True

    def build(self, store: Store, sid: str, *, personalizer=None) -> Export:
        data = jsonl(trl_rows(store, sid))
        return Export(f"edpbrl-{public_id(sid)}-trl.jsonl", "application/x-ndjson", data)


register_format("trl", TrlFormat(), help="TRL prompt/chosen/rejected pairs")
