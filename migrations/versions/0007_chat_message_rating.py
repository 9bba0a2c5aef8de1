"""A citizen's rating of an assistant answer ("Esta resposta ajudou?"): chat_messages.helpful

Revision ID: 0007
Revises: 0006
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('chat_messages') as batch:
        batch.add_column(sa.Column('helpful', sa.Boolean(), nullable=True))


def downgrade():
    with op.batch_alter_table('chat_messages') as batch:
        batch.drop_column('helpful')
