"""Errors of the storage and grievance layer."""

from __future__ import annotations


class GrievanceError(Exception):
    """Base class of errors raised by the ``grievance`` package."""


class StorageUnavailable(GrievanceError):
    """The database cannot be reached or is locked; the caller should ask to try again."""


class CaseNotFound(GrievanceError):
    """No case matches (also raised for a wrong receipt code, indistinguishably)."""


class InvalidTransition(GrievanceError):
    """A case status change that the workflow does not allow (e.g. ``closed -> new``)."""


class ContactNotAllowed(GrievanceError):
    """The worker declined contact or erased their contact details: no reply can be sent."""


class TooManyAttempts(GrievanceError):
    """Too many wrong receipt codes from one worker; they must wait before trying again."""


class ModeratorNotFound(GrievanceError):
    """No active moderator has the given id."""
