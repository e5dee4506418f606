"""HTTP: the ASGI app, server-rendered pages, and the one mapping from domain errors to HTTP."""
