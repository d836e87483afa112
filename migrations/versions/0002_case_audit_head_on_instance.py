"""The last link of a case's audit chain moves onto its instance row.

Every change to a case already locks and rewrites the instance row, so keeping the chain's head
there saves two statements per step. Existing heads are copied from audit_stream_head and removed
from it.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

GENESIS = "0" * 64


def upgrade() -> None:
    with op.batch_alter_table("process_instance") as batch:
        batch.add_column(sa.Column("audit_seq", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("audit_hash", sa.String(64), nullable=False, server_default=GENESIS))
    op.execute("""
        UPDATE process_instance SET
            audit_seq = (SELECT h.seq FROM audit_stream_head h WHERE h.stream = 'case:' || process_instance.id),
            audit_hash = (SELECT h.hash FROM audit_stream_head h WHERE h.stream = 'case:' || process_instance.id)
        WHERE EXISTS (SELECT 1 FROM audit_stream_head h WHERE h.stream = 'case:' || process_instance.id)
    """)
    op.execute("DELETE FROM audit_stream_head WHERE stream LIKE 'case:%'")


def downgrade() -> None:
    op.execute("""
        INSERT INTO audit_stream_head (stream, seq, hash)
        SELECT 'case:' || id, audit_seq, audit_hash FROM process_instance WHERE audit_seq > 0
    """)
    with op.batch_alter_table("process_instance") as batch:
        batch.drop_column("audit_hash")
        batch.drop_column("audit_seq")
