"""reviewers without a unit: an invite and a reviewer name the campaigns or forms they review

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("invites", schema=None) as batch_op:
        # A reviewer invite names campaigns or forms instead of a unit.
        batch_op.alter_column("unit_id", existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column("scope", sa.JSON(), nullable=True))
    with op.batch_alter_table("respondents", schema=None) as batch_op:
        # What a reviewer reviews ({"campaigns": [...], "forms": [...]}); NULL: everything.
        batch_op.add_column(sa.Column("scope", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("respondents", schema=None) as batch_op:
        batch_op.drop_column("scope")
    with op.batch_alter_table("invites", schema=None) as batch_op:
        batch_op.drop_column("scope")
        batch_op.alter_column("unit_id", existing_type=sa.Integer(), nullable=False)
