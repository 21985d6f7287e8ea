"""Backends compile generated source and run it; ``cache`` keeps it on disk."""
