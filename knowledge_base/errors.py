"""Errors of the knowledge base."""

from __future__ import annotations


class KnowledgeBaseError(Exception):
    """Base class of knowledge-base errors."""


class SourceParseError(KnowledgeBaseError):
    """A source file does not parse; the message names the file and line."""


class IndexMissingError(KnowledgeBaseError):
    """The search index is missing or corrupt: run ``workright kb build``."""
