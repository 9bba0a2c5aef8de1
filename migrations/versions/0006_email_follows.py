"""citizens follow processes by e-mail: subscribers, follows and deliveries

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 16:10:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('email_subscribers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('address', sa.String(length=254), nullable=False),
    sa.Column('address_digest', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('failed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('failure_reason', sa.String(length=255), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_email_subscribers')),
    sa.UniqueConstraint('address_digest', name=op.f('uq_email_subscribers_address_digest'))
    )
    op.create_table('email_follows',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('subscriber_id', sa.Integer(), nullable=False),
    sa.Column('cnj', sa.String(length=20), nullable=False),
    sa.Column('consent_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('consent_version', sa.String(length=20), nullable=False),
    sa.Column('nonce', sa.String(length=64), nullable=True),
    sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('notified_through', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_notice_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['subscriber_id'], ['email_subscribers.id'], name=op.f('fk_email_follows_subscriber_id_email_subscribers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_email_follows')),
    sa.UniqueConstraint('subscriber_id', 'cnj', name=op.f('uq_email_follows_subscriber_id'))
    )
    with op.batch_alter_table('email_follows', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_email_follows_cnj'), ['cnj'], unique=False)
        batch_op.create_index(batch_op.f('ix_email_follows_consent_at'), ['consent_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_email_follows_subscriber_id'), ['subscriber_id'], unique=False)

    op.create_table('email_deliveries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('subscriber_id', sa.Integer(), nullable=True),
    sa.Column('follow_id', sa.Integer(), nullable=True),
    sa.Column('address_digest', sa.String(length=64), nullable=True),
    sa.Column('cnj', sa.String(length=20), nullable=True),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('error', sa.String(length=255), nullable=True),
    sa.ForeignKeyConstraint(['follow_id'], ['email_follows.id'], name=op.f('fk_email_deliveries_follow_id_email_follows'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['subscriber_id'], ['email_subscribers.id'], name=op.f('fk_email_deliveries_subscriber_id_email_subscribers'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_email_deliveries'))
    )
    with op.batch_alter_table('email_deliveries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_email_deliveries_address_digest'), ['address_digest'], unique=False)
        batch_op.create_index(batch_op.f('ix_email_deliveries_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_email_deliveries_follow_id'), ['follow_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_email_deliveries_subscriber_id'), ['subscriber_id'], unique=False)


def downgrade():
    with op.batch_alter_table('email_deliveries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_email_deliveries_subscriber_id'))
        batch_op.drop_index(batch_op.f('ix_email_deliveries_follow_id'))
        batch_op.drop_index(batch_op.f('ix_email_deliveries_created_at'))
        batch_op.drop_index(batch_op.f('ix_email_deliveries_address_digest'))
    op.drop_table('email_deliveries')
    with op.batch_alter_table('email_follows', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_email_follows_subscriber_id'))
        batch_op.drop_index(batch_op.f('ix_email_follows_consent_at'))
        batch_op.drop_index(batch_op.f('ix_email_follows_cnj'))
    op.drop_table('email_follows')
    op.drop_table('email_subscribers')
