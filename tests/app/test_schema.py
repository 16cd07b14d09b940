"""Schemathesis against the OpenAPI schema, in process and bounded: every generated request gets
a documented status, content type and body, and never a 5xx. Half the cases use a real session's
token, so that the answers, undos, results and exports of a live session are exercised too."""

from __future__ import annotations

import os

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402

# per operation; EDPBRL_SCHEMA_EXAMPLES=300 for a longer run (0 failures at 300, docs/app.md)
MAX_EXAMPLES = int(os.environ.get("EDPBRL_SCHEMA_EXAMPLES", "25"))


@pytest.fixture(scope="module")
def api(tmp_path_factory, tiny_vocab_dir):
    from fastapi.testclient import TestClient

    from edpbrl.app.middleware import Protection
    from edpbrl.app.server import create_app

    app = create_app(
        tmp_path_factory.mktemp("schema") / "s.db",
        vocab=tiny_vocab_dir,
        k=3,
        episodes=2,
        embedder="hashing",
        protection=Protection(hosts=["*"], rate=0, create_rate=0),
    )
    with TestClient(app) as c:
        app.state.sid = c.post("/api/sessions", json={"style": "schema"}).json()["id"]
        yield app


def operations(app):
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    return [result.ok() for result in schema.get_all_operations()]


def test_every_operation_conforms_to_the_schema(api):
    ops = operations(api)
    assert len(ops) >= 11
    failures = []
    for op in ops:

        @given(case=op.as_strategy())
        @settings(
            max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None
        )
        def check(case):
            if "sid" in (case.path_parameters or {}) and hash(repr(case.body)) % 2 == 0:
                case.path_parameters["sid"] = api.state.sid
            case.call_and_validate()

        try:
            check()
        except Exception as exc:  # collect every operation's failure, then report them all
            failures.append(f"{op.method.upper()} {op.path}: {exc}")
    assert not failures, "\n\n".join(failures)
