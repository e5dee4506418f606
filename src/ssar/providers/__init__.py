"""Verification providers: one port (:mod:`ssar.providers.base`), three adapters."""
