"""Admin templates import the shared macros *with context*: without it Jinja hides the page's
variables from the macros, and ``ui.csrf()`` would print an empty token (every form would then
fail in a real browser while TestClient tests, which add the token themselves, pass)."""

from __future__ import annotations

import re
from pathlib import Path

import ssar.web

TEMPLATES = Path(ssar.web.__file__).parent / "templates" / "admin"
IMPORT = re.compile(r"{%-?\s*(?:import|from)\s+\"admin/_macros.html\"[^%]*%}")


def test_every_admin_template_imports_the_macros_with_context() -> None:
    checked = 0
    for template in sorted(TEMPLATES.glob("*.html")):
        text = re.sub(r"{#.*?#}", "", template.read_text(), flags=re.DOTALL)
        for statement in IMPORT.findall(text):
            checked += 1
            assert "with context" in statement, f"{template.name}: {statement}"
    assert checked >= 10
