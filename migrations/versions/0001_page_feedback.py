"""Page feedback: answers to "Esta página foi útil?".

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-25 10:39:53.087889

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('page_feedback',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('page', sa.String(length=64), nullable=False),
    sa.Column('helpful', sa.Boolean(), nullable=False),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_page_feedback'))
    )
    with op.batch_alter_table('page_feedback', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_page_feedback_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_page_feedback_page'), ['page'], unique=False)



def downgrade():
    with op.batch_alter_table('page_feedback', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_page_feedback_page'))
        batch_op.drop_index(batch_op.f('ix_page_feedback_created_at'))

    op.drop_table('page_feedback')
