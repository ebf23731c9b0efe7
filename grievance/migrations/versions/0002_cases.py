"""Grievance cases, case events, moderators, outbox, audit log, status attempts.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "moderator",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("totp_secret_enc", sa.Text, nullable=True),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
    )
    op.create_table(
        "grievance_case",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("urgency", sa.String(16), nullable=False),
        sa.Column("jurisdiction", sa.String(8), nullable=True),
        sa.Column("lang", sa.String(8), nullable=True),
        sa.Column("account_enc", sa.Text, nullable=True),
        sa.Column("employer_enc", sa.Text, nullable=True),
        sa.Column("location_enc", sa.Text, nullable=True),
        sa.Column("workers_affected_enc", sa.Text, nullable=True),
        sa.Column("contact_consent", sa.Boolean, nullable=False),
        sa.Column("worker_ref", sa.String(64), nullable=True),
        sa.Column("channel", sa.String(32), nullable=True),
        sa.Column("chat_id_enc", sa.Text, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("withdrawn", sa.Boolean, nullable=False),
        sa.Column(
            "assignee_id",
            sa.Integer,
            sa.ForeignKey("moderator.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("acknowledge_due", _TS, nullable=False),
        sa.Column("feedback_due", _TS, nullable=False),
        sa.Column("acknowledged_at", _TS, nullable=True),
        sa.Column("feedback_at", _TS, nullable=True),
        sa.Column("closed_at", _TS, nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.UniqueConstraint("code_hash", name="uq_case_code_hash"),
    )
    op.create_index("ix_case_status_urgency", "grievance_case", ["status", "urgency"])
    op.create_index("ix_case_worker_ref", "grievance_case", ["worker_ref"])
    op.create_index("ix_case_closed_at", "grievance_case", ["closed_at"])
    op.create_table(
        "case_event",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "case_id",
            sa.Integer,
            sa.ForeignKey("grievance_case.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(16), nullable=False),
        sa.Column(
            "moderator_id",
            sa.Integer,
            sa.ForeignKey("moderator.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("text_enc", sa.Text, nullable=True),
        sa.Column("data", sa.Text, nullable=True),
        sa.Column("created_at", _TS, nullable=False),
    )
    op.create_index("ix_case_event_case", "case_event", ["case_id", "id"])
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "case_id",
            sa.Integer,
            sa.ForeignKey("grievance_case.id", ondelete="CASCADE"),
            nullable=True,
        ),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("worker_ref", sa.String(64), nullable=True),
        sa.Column("chat_id_enc", sa.Text, nullable=True),
        sa.Column("text_enc", sa.Text, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", _TS, nullable=False),
        sa.Column("claim_token", sa.String(32), nullable=True),
        sa.Column("claimed_until", _TS, nullable=True),
        sa.Column("last_error", sa.String(200), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("sent_at", _TS, nullable=True),
    )
    op.create_index("ix_outbox_due", "outbox", ["channel", "status", "next_attempt_at"])
    op.create_index("ix_outbox_worker", "outbox", ["worker_ref", "status"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("moderator_id", sa.Integer, nullable=True),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("case_id", sa.Integer, nullable=True),
        sa.Column("details", sa.Text, nullable=True),
        sa.Column("created_at", _TS, nullable=False),
    )
    op.create_index("ix_audit_case", "audit_log", ["case_id"])
    op.create_index("ix_audit_at", "audit_log", ["created_at"])
    op.create_table(
        "status_attempt",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("user_ref", sa.String(64), nullable=False),
        sa.Column("at", _TS, nullable=False),
    )
    op.create_index("ix_status_attempt_user", "status_attempt", ["user_ref", "at"])


def downgrade() -> None:
    op.drop_index("ix_status_attempt_user", "status_attempt")
    op.drop_table("status_attempt")
    op.drop_index("ix_audit_at", "audit_log")
    op.drop_index("ix_audit_case", "audit_log")
    op.drop_table("audit_log")
    op.drop_index("ix_outbox_worker", "outbox")
    op.drop_index("ix_outbox_due", "outbox")
    op.drop_table("outbox")
    op.drop_index("ix_case_event_case", "case_event")
    op.drop_table("case_event")
    op.drop_index("ix_case_closed_at", "grievance_case")
    op.drop_index("ix_case_worker_ref", "grievance_case")
    op.drop_index("ix_case_status_urgency", "grievance_case")
    op.drop_table("grievance_case")
    op.drop_table("moderator")
