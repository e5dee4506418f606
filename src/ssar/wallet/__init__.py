"""The reference holder wallet (demos and tests): a P-256 holder key, a credential store, and an
OpenID4VP presenter, driven by ``ssar wallet`` and, in demo mode, the ``/wallet`` pages."""
