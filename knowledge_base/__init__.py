"""Curated sources, answer cards, the search index and hybrid retrieval."""
