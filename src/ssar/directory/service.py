"""Directory service: one unit of work per method."""

from __future__ import annotations

from ssar.clock import Clock
from ssar.store.db import Database


class DirectoryService:
    def __init__(self, *, database: Database, clock: Clock) -> None:
        self._db = database
        self._clock = clock
