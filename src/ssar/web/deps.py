"""Typed FastAPI dependencies shared by every router."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, Request
from fastapi.templating import Jinja2Templates

from ssar.registry import Registry


def get_registry(request: Request) -> Registry:
    return cast(Registry, request.app.state.registry)


def get_templates(request: Request) -> Jinja2Templates:
    return cast(Jinja2Templates, request.app.state.templates)


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


RegistryDep = Annotated[Registry, Depends(get_registry)]
TemplatesDep = Annotated[Jinja2Templates, Depends(get_templates)]
