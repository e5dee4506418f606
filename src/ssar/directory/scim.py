"""SCIM 2.0 (RFC 7643/7644) endpoints under /scim/v2."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/scim/v2", tags=["scim"])
