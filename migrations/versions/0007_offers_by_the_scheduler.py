"""Offers of new tasks are sent by the scheduler, not inside the step that creates the task.

``human_task.offered_at`` marks a task whose candidates have been told; a small partial index finds
the ones not yet told. Existing tasks count as told. ``notification.task_id`` gets an index (claiming
withdraws a task's offers).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25
"""
import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('human_task', schema=None) as batch_op:
        batch_op.add_column(sa.Column('offered_at', sa.DateTime(timezone=True), nullable=True))
    op.execute(sa.text("UPDATE human_task SET offered_at = created_at"))
    with op.batch_alter_table('human_task', schema=None) as batch_op:
        batch_op.create_index('ix_human_task_not_offered', ['id'], unique=False,
                              sqlite_where=sa.text('offered_at IS NULL'),
                              postgresql_where=sa.text('offered_at IS NULL'))
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.create_index('ix_notification_task', ['task_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.drop_index('ix_notification_task')
    with op.batch_alter_table('human_task', schema=None) as batch_op:
        batch_op.drop_index('ix_human_task_not_offered', sqlite_where=sa.text('offered_at IS NULL'),
                            postgresql_where=sa.text('offered_at IS NULL'))
        batch_op.drop_column('offered_at')
