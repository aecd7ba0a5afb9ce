"""evidence files and links per item (bytes stored once by SHA-256 in blobs, with the link
documents' bytes), reviewers' appraisals

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_STRING = sqlmodel.sql.sqltypes.AutoString
_TIME = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "blobs",
        sa.Column("digest", _STRING(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("mime_type", _STRING(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("created_at", _TIME(), nullable=False),
        sa.PrimaryKeyConstraint("digest"),
    )
    # The documents of signed links keep their bytes in blobs too: one home for stored bytes.
    op.execute(
        "INSERT INTO blobs (digest, data, mime_type, size, created_at) "
        "SELECT digest, data, mime_type, size, created_at FROM documents"
    )
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.drop_column("data")
        batch_op.create_foreign_key("fk_documents_digest_blobs", "blobs", ["digest"], ["digest"])
    op.create_table(
        "evidence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("code", _STRING(), nullable=False),
        sa.Column("kind", _STRING(), nullable=False),
        sa.Column("digest", _STRING(), nullable=True),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("filename", _STRING(), nullable=True),
        sa.Column("mime_type", _STRING(), nullable=True),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("respondent_id", sa.Integer(), nullable=True),
        sa.Column("channel", _STRING(), nullable=True),
        sa.Column("received_at", _TIME(), nullable=False),
        sa.ForeignKeyConstraint(["digest"], ["blobs.digest"]),
        sa.ForeignKeyConstraint(["respondent_id"], ["respondents.id"]),
        sa.ForeignKeyConstraint(["submission_id"], ["submissions.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_evidence_submission_code", "evidence", ["submission_id", "code"])
    op.create_table(
        "appraisals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("code", _STRING(), nullable=False),
        sa.Column("value", sa.JSON(), nullable=True),
        sa.Column("raw", _STRING(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("reviewer", _STRING(), nullable=True),
        sa.Column("updated_at", _TIME(), nullable=False),
        sa.ForeignKeyConstraint(["submission_id"], ["submissions.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("submission_id", "code"),
    )
    op.create_index("ix_appraisals_submission_id", "appraisals", ["submission_id"])


def downgrade() -> None:
    op.drop_index("ix_appraisals_submission_id", table_name="appraisals")
    op.drop_table("appraisals")
    op.drop_index("ix_evidence_submission_code", table_name="evidence")
    op.drop_table("evidence")
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.drop_constraint("fk_documents_digest_blobs", type_="foreignkey")
        batch_op.add_column(sa.Column("data", sa.LargeBinary(), nullable=True))
    op.execute(
        "UPDATE documents SET data = (SELECT data FROM blobs WHERE blobs.digest = documents.digest)"
    )
    op.drop_table("blobs")
