"""Withdrawing an evidence attachment (佐证材料) uploaded by mistake: who, when and why, on the row.

Nothing is deleted: the row, the stored file and the audit events stay; a withdrawn file is only no
longer offered for download.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""
import sqlalchemy as sa
from alembic import op


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('attachment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('removed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('removed_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('removal_reason', sa.String(length=500), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_attachment_removed_by_id_app_user'), 'app_user',
                                    ['removed_by_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('attachment', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_attachment_removed_by_id_app_user'), type_='foreignkey')
        batch_op.drop_column('removal_reason')
        batch_op.drop_column('removed_by_id')
        batch_op.drop_column('removed_at')
