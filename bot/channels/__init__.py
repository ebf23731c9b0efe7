"""Channel adapters: each turns its platform's updates into Messages and Replies back."""
