"""Migrations run forward and back, and 0002 carries existing case audit heads onto their instances."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect, text

from engine.db import make_engine
from engine.migrate import alembic_config, upgrade

HEAD = "a" * 64


def test_0002_moves_case_audit_heads_onto_instances_and_back(tmp_path):
    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url, "0001")
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO organisation (id, code, name, kind, path) "
                          "VALUES (1, 'C', '某市', 'city', '/1/')"))
        conn.execute(text("INSERT INTO process_definition (id, key, name, version, bpmn_xml, sha256, deployed_at) "
                          "VALUES (1, 'p', 'p', 1, '<x/>', 's', '2026-01-01')"))
        conn.execute(text("INSERT INTO process_instance (id, definition_id, process_key, status, state, version, "
                          "title, confidential, scope_org_id, bindings, recused_user_ids, started_at, updated_at) "
                          "VALUES (7, 1, 'p', 'running', '{}', 1, 't', 0, 1, '{}', '[]', '2026-01-01', '2026-01-01')"))
        conn.execute(text("INSERT INTO audit_stream_head (stream, seq, hash) VALUES ('case:7', 3, :h), "
                          "('system', 2, :h)"), {"h": HEAD})
    engine.dispose()

    upgrade(url)
    engine = make_engine(url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT audit_seq, audit_hash FROM process_instance WHERE id = 7")).one() == (3, HEAD)
        assert conn.execute(text("SELECT stream FROM audit_stream_head")).scalars().all() == ["system"]
    engine.dispose()

    command.downgrade(alembic_config(url), "0001")
    engine = make_engine(url)
    with engine.connect() as conn:
        assert "audit_seq" not in {c["name"] for c in inspect(conn).get_columns("process_instance")}
        assert sorted(conn.execute(text("SELECT stream, seq FROM audit_stream_head")).all()) == [
            ("case:7", 3), ("system", 2)]
    engine.dispose()
