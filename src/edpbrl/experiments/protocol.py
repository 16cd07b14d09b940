"""Experimental protocols: named presets of everything a simulation depends on.

A :class:`Protocol` fixes how the vocabulary is used, how the simulated user answers, the design's
criterion and λ, and the default budgets, seeds, styles and methods. Two are registered in
:data:`PROTOCOLS`:

* ``ours`` — per-slot vocabularies (75/25 design/test split per slot), users with rationality
  β = 10, A-criterion, λ = 1: the setting of this project's earlier results.
* ``paper`` — the authors' setting as read from their experiment code: slot 1 from the bases
  list, slots 2–6 all offering one pooled vocabulary (the design words of all five lists) plus a
  blank action, a token chosen twice becomes blank; users answer with the plain softmax
  (β = 1); the A-criterion weighted by V (the sum over slots of the pairwise-difference scatter
  of each slot's tokens — our V-criterion); λ = 0.1. Their design regulariser λ/(H·T) on the
  per-question average information is the same as λ on the summed information used here (both
  rescale M by 1/(H·T), which leaves the A- and V-optimal designs unchanged). Test prompts are
  slot-specific from the held-out words, a slot blank with probability 0.3 (as in ``ours``).

Both default to the paper's data (``paper`` vocabulary, ``paper:`` styles; fetch it with
``edpbrl data paper``), K = 4, dense feedback, 10/25/50/80 episodes, 20 seeds. Everything else
is the same code; a protocol's fields can be overridden one at a time (to measure which
ingredient matters).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

from ..registry import Registry
from .simulate import SimConfig

PAPER_STYLES = ("paper:sunny", "paper:medieval", "paper:technological")


@dataclass(frozen=True)
class Protocol:
    """A named experimental preset (see the module docstring)."""

    vocab_mode: str
    rationality: float
    criterion: str
    lam: float
    k: int = 4
    feedback: str = "dense"
    vocab: str | None = "paper"
    styles: tuple[str, ...] = PAPER_STYLES
    budgets: tuple[int, ...] = (10, 25, 50, 80)
    seeds: int = 20
    methods: tuple[str, ...] = ("random", "ed-pbrl", "ed-pbrl-mixture", "ed-pbrl-rounded")

    def config(self, **overrides) -> SimConfig:
        """The :class:`SimConfig` of this protocol, with ``overrides`` (None values ignored)."""
        names = {f.name for f in fields(SimConfig)}
        base = {
            n: getattr(self, n)
            for n in ("vocab_mode", "rationality", "criterion", "lam", "k", "feedback", "vocab")
        }
        base.update({k: v for k, v in overrides.items() if v is not None and k in names})
        return SimConfig(**base)

    def with_(self, **changes) -> Protocol:
        return replace(self, **changes)


PROTOCOLS: Registry[Protocol] = Registry("protocol")
PROTOCOLS.register(
    "ours",
    Protocol(vocab_mode="per-slot", rationality=10.0, criterion="A", lam=1.0),
    help="per-slot vocabularies, β = 10, A-criterion, λ = 1",
)
PROTOCOLS.register(
    "paper",
    Protocol(vocab_mode="pooled", rationality=1.0, criterion="V", lam=0.1),
    help="the authors': pooled vocabulary with blank, β = 1, V-weighted A-criterion, λ = 0.1",
)
