"""Issue 4: indexes for the work queues at 1,000,000 task rows (see docs/performance.md).

Portable (declared in models/process.py too): partial indexes over open tasks for the three sorts
(deadline, priority, created), oversight scope, unit/county, round, and the group queue (offered to
a role or a person, unclaimed). On PostgreSQL they use pattern ops on the path columns and INCLUDE
what counts need. PostgreSQL only: pg_trgm GIN indexes on case number and title for the search
(ILIKE '%…%'), over the open tasks and over the whole table.
pg_trgm is a trusted extension (PostgreSQL 13+): the database owner may create it. Where it cannot be
created the migration says so and goes on without the trigram indexes; search still works, by
scanning the open tasks of the actor's scope.

The group-queue index of 0001 (status, candidate_group, candidate_org_path) is replaced by the
partial one.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 15:00:00
"""
import logging

import sqlalchemy as sa
from alembic import op
from sqlalchemy.exc import DBAPIError

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

READY_ONLY = "status = 'ready'"
OFFERED_ONLY = "status = 'ready' AND assignee_id IS NULL"
SCOPE_AND_CASE = ["scope_path", "instance_id"]
# name → (column, only open tasks?): the open-task ones serve the queues (a tenth of the postings to
# read for a common trigram such as "202"), the whole-table ones searches in history (status=completed).
TRIGRAM_INDEXES = {"ix_human_task_ready_reference_trgm": ("reference", True),
                   "ix_human_task_ready_title_trgm": ("title", True),
                   "ix_human_task_reference_trgm": ("reference", False),
                   "ix_human_task_title_trgm": ("title", False)}

log = logging.getLogger("alembic.runtime.migration")


def _partial(name, columns, where, include=None, ops=None):
    op.create_index(name, "human_task", columns, unique=False, sqlite_where=sa.text(where),
                    postgresql_where=sa.text(where), postgresql_include=include or [], postgresql_ops=ops or {})


def upgrade() -> None:
    with op.batch_alter_table('human_task', schema=None) as batch_op:
        batch_op.drop_index('ix_human_task_group_queue')
    _partial("ix_human_task_ready_due", ["due_at", "id"], READY_ONLY, SCOPE_AND_CASE)
    _partial("ix_human_task_ready_priority", [sa.text("priority DESC"), "due_at", "id"], READY_ONLY, SCOPE_AND_CASE)
    _partial("ix_human_task_ready_created", ["created_at", "id"], READY_ONLY, SCOPE_AND_CASE)
    _partial("ix_human_task_ready_scope", ["scope_path"], READY_ONLY, ["instance_id"],
             {"scope_path": "varchar_pattern_ops"})
    _partial("ix_human_task_ready_unit", ["unit_path", "due_at"], READY_ONLY, SCOPE_AND_CASE,
             {"unit_path": "varchar_pattern_ops"})
    _partial("ix_human_task_ready_round", ["round_id", "due_at"], READY_ONLY, SCOPE_AND_CASE)
    _partial("ix_human_task_offered_group", ["candidate_group", "candidate_org_path"], OFFERED_ONLY,
             ["instance_id", "due_at"], {"candidate_org_path": "varchar_pattern_ops"})
    _partial("ix_human_task_offered_user", ["candidate_user_id"], OFFERED_ONLY)

    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    try:
        with bind.begin_nested():
            bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    except DBAPIError as exc:
        log.warning("pg_trgm is not available (%s); the queue search runs without trigram indexes. "
                    "Create the extension as a superuser, then downgrade to 0004 and upgrade again to add them.",
                    str(exc.orig).strip())
        return
    for name, (column, open_only) in TRIGRAM_INDEXES.items():
        op.create_index(name, "human_task", [column], unique=False, postgresql_using="gin",
                        postgresql_ops={column: "gin_trgm_ops"},
                        postgresql_where=sa.text(READY_ONLY) if open_only else None)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name in TRIGRAM_INDEXES:
            op.execute(f"DROP INDEX IF EXISTS {name}")
    for name in ("ix_human_task_offered_user", "ix_human_task_offered_group", "ix_human_task_ready_round",
                 "ix_human_task_ready_unit", "ix_human_task_ready_scope", "ix_human_task_ready_created",
                 "ix_human_task_ready_priority", "ix_human_task_ready_due"):
        op.drop_index(name, table_name="human_task")
    with op.batch_alter_table('human_task', schema=None) as batch_op:
        batch_op.create_index('ix_human_task_group_queue', ['status', 'candidate_group', 'candidate_org_path'],
                              unique=False)
