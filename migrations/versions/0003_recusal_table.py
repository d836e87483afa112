"""回避 as rows, so that work queues can leave recused users' cases out in SQL.

The per-instance JSON list stays (it is the row-level check); existing lists are copied here.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""
import json

import sqlalchemy as sa
from alembic import op


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('recusal',
    sa.Column('instance_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['instance_id'], ['process_instance.id'], name=op.f('fk_recusal_instance_id_process_instance')),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_recusal_user_id_app_user')),
    sa.PrimaryKeyConstraint('instance_id', 'user_id', name=op.f('pk_recusal'))
    )
    with op.batch_alter_table('recusal', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recusal_user_id'), ['user_id'], unique=False)

    # ### end Alembic commands ###
    bind = op.get_bind()
    rows = []
    for instance_id, recused in bind.execute(sa.text("SELECT id, recused_user_ids FROM process_instance")):
        users = json.loads(recused) if isinstance(recused, str) else (recused or [])
        rows += [{"instance_id": instance_id, "user_id": user_id} for user_id in users]
    if rows:
        bind.execute(sa.text("INSERT INTO recusal (instance_id, user_id) VALUES (:instance_id, :user_id)"), rows)


def downgrade() -> None:
    with op.batch_alter_table('recusal', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_recusal_user_id'))

    op.drop_table('recusal')
    # ### end Alembic commands ###
