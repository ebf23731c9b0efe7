"""Storage: conversation state, grievance cases, outbox, moderators, audit log, encryption."""
