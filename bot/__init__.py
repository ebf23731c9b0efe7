"""The conversation: channels, the Assistant, dialogue state, CLI and the ASGI server."""
