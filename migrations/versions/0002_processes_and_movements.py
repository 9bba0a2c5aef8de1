"""Processes (one row per instance) and their movements.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 11:13:16.357970

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('processes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('cnj', sa.String(length=20), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('source_id', sa.String(length=120), nullable=False),
    sa.Column('degree', sa.String(length=10), nullable=False),
    sa.Column('class_code', sa.Integer(), nullable=True),
    sa.Column('class_name', sa.String(length=255), nullable=True),
    sa.Column('subjects', sa.JSON(), nullable=False),
    sa.Column('judging_body_code', sa.Integer(), nullable=True),
    sa.Column('judging_body_name', sa.String(length=255), nullable=True),
    sa.Column('filed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('secrecy_level', sa.Integer(), nullable=False),
    sa.Column('restricted', sa.Boolean(), nullable=False),
    sa.Column('upstream_updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('fetched_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('valid_until', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_sync_status', sa.String(length=20), nullable=False),
    sa.Column('last_sync_error', sa.Text(), nullable=True),
    sa.Column('followed', sa.Boolean(), nullable=False),
    sa.Column('last_accessed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('raw', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_processes')),
    sa.UniqueConstraint('source', 'source_id', name=op.f('uq_processes_source'))
    )
    with op.batch_alter_table('processes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_processes_cnj'), ['cnj'], unique=False)
        batch_op.create_index(batch_op.f('ix_processes_followed'), ['followed'], unique=False)
        batch_op.create_index(batch_op.f('ix_processes_last_accessed_at'), ['last_accessed_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_processes_valid_until'), ['valid_until'], unique=False)

    op.create_table('movements',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('process_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('code', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('complements', sa.JSON(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['process_id'], ['processes.id'], name=op.f('fk_movements_process_id_processes'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_movements'))
    )
    with op.batch_alter_table('movements', schema=None) as batch_op:
        batch_op.create_index('ix_movements_process_position', ['process_id', 'position'], unique=False)



def downgrade():
    with op.batch_alter_table('movements', schema=None) as batch_op:
        batch_op.drop_index('ix_movements_process_position')

    op.drop_table('movements')
    with op.batch_alter_table('processes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_processes_valid_until'))
        batch_op.drop_index(batch_op.f('ix_processes_last_accessed_at'))
        batch_op.drop_index(batch_op.f('ix_processes_followed'))
        batch_op.drop_index(batch_op.f('ix_processes_cnj'))

    op.drop_table('processes')
