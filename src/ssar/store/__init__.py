"""Persistence: the engine and unit of work (``db``), table mappings (``tables``), migrations."""
