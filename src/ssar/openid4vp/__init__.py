"""The OpenID4VP 1.0 verifier protocol: Request Objects served by reference, the
``direct_post`` / ``direct_post.jwt`` response endpoint, response codes and wallet links."""
