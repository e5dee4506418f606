"""Sign-in: passkeys (WebAuthn), TOTP, Temporary Access Passes, sessions."""
