"""The reference identity verification service: document evidence, selfie + liveness, issuance
of the verifiable credential the recovery flow verifies (its own ASGI app and keys)."""
