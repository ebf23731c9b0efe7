"""Conversation state and inbound message de-duplication.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inbound_message",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("message_id", sa.String(128), nullable=False),
        sa.Column("user_ref", sa.String(64), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("channel", "message_id", name="uq_inbound_channel_message"),
    )
    op.create_index("ix_inbound_received_at", "inbound_message", ["received_at"])
    op.create_table(
        "conversation",
        sa.Column("user_ref", sa.String(64), primary_key=True),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("lang", sa.String(8), nullable=True),
        sa.Column("lang_chosen", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("country", sa.String(8), nullable=True),
        sa.Column("flow", sa.String(32), nullable=True),
        sa.Column("flow_state", sa.Text, nullable=True),
        sa.Column("last_results", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_conversation_updated_at", "conversation", ["updated_at"])


def downgrade() -> None:
    op.drop_index("ix_conversation_updated_at", "conversation")
    op.drop_table("conversation")
    op.drop_index("ix_inbound_received_at", "inbound_message")
    op.drop_table("inbound_message")
