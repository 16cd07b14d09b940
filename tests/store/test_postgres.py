"""PostgreSQL specifics: URLs without passwords, opening and refusing to create, concurrent
first opens, the one-line error without psycopg. The contract suite runs on PostgreSQL too."""

from __future__ import annotations

import socket
import sys
import threading

import pytest

from edpbrl.store import STORES, PostgresStore, StoreError, open_store
from edpbrl.store.postgres import public_url


def test_url_never_shows_a_password():
    url = "postgresql://alice:s3cret@db.example:5433/edp?sslmode=require&password=other"
    assert public_url(url) == "postgresql://alice@db.example:5433/edp?sslmode=require"
    assert public_url("postgres://db/x") == "postgres://db/x"
    assert (
        public_url("postgresql://u@/x?host=/run/postgresql") == "postgresql://u@/x?host=%2Frun%2Fpostgresql"
    )
    assert {"postgresql", "postgres"} <= set(STORES)


def test_schemes_open_the_same_database(postgres_url):
    a = open_store(postgres_url)
    b = open_store(postgres_url.replace("postgresql://", "postgres://", 1), create=False)
    try:
        assert isinstance(a, PostgresStore) and a.media_dir() is None
        sid = a.create_session(style="x", k=2, episodes=1)
        assert b.get_session(sid)["style"] == "x"
    finally:
        a.close()
        b.close()


def test_open_without_create_refuses_an_empty_database(postgres_url):
    with pytest.raises(StoreError, match="no edpbrl store"):
        open_store(postgres_url, create=False)


def test_unreachable_server_is_a_one_line_error():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    pytest.importorskip("psycopg", reason="needs psycopg (the 'postgres' extra)")
    with pytest.raises(StoreError, match="cannot open PostgreSQL store") as err:
        open_store(f"postgresql://nobody:pw@127.0.0.1:{port}/x")
    assert "\n" not in str(err.value) and "pw" not in str(err.value)


def test_concurrent_first_opens_create_the_tables_once(postgres_url):
    errors, stores = [], []

    def open_one():
        try:
            stores.append(open_store(postgres_url))
        except Exception as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(stores) == 4
    for s in stores:
        s.close()


def test_without_psycopg_a_one_line_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "psycopg", None)  # import psycopg -> ImportError
    with pytest.raises(StoreError, match=r"pip install 'edpbrl\[postgres\]'"):
        open_store("postgresql://u@localhost/x")
