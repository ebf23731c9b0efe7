"""Multi-step conversations (report, status, delete) behind one small protocol."""

from bot.flows.base import Flow, Turn

__all__ = ["Flow", "Turn"]
