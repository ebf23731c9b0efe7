"""Errors of the storage and grievance layer."""

from __future__ import annotations


class GrievanceError(Exception):
    """Base class of errors raised by the ``grievance`` package."""


class StorageUnavailable(GrievanceError):
    """The database cannot be reached or is locked; the caller should ask to try again."""


class CaseNotFound(GrievanceError):
    """No case matches (also raised for a wrong receipt code, indistinguishably)."""
