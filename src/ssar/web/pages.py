"""Server-rendered pages (sign-in, security info). Routes translate HTTP ⇄ service calls only."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
