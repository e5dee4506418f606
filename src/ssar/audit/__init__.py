"""The append-only, hash-chained audit log (R30)."""
