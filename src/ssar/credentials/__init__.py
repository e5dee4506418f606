"""The verifier "hazmat" tier: pure functions, no I/O (fetchers and clock injected).

SD-JWT / SD-JWT VC, JWT-VC, ISO mdoc, issuer trust, Token Status List, DCQL. Every failure is a
``ssar.errors.CredentialError`` whose ``code`` is one of the stable codes of CONTRACTS.md.
"""
