"""Intents, safety triage and language identification for WorkRight."""
