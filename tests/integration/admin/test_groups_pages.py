"""Admin center groups pages: the list (search, nesting, counts, pages) and a group's page."""

from __future__ import annotations

import re

from ssar.registry import Registry
from tests.support.admin import admin_browser
from tests.support.web import INLINE

GROUP_LINK = re.compile(r'<a href="/admin/groups/[^"]+"><strong>([^<]+)</strong></a>')


def _org(registry: Registry) -> None:
    registry.directory.add_group("All Staff")
    registry.directory.add_group("Engineering", parent="All Staff")
    registry.directory.add_group("Executives", parent="All Staff")
    for username, group in [("ada", "Engineering"), ("alan", "Engineering"), ("ceo", "Executives")]:
        registry.directory.add_user(
            username=username, given_name=username.title(), family_name="Test", groups=[group]
        )
    registry.profiles.apply(
        {
            "profiles": [
                {
                    "name": "Employees",
                    "priority": 10,
                    "include_groups": ["All Staff"],
                    "exclude_groups": ["Executives"],
                    "provider": "reference",
                }
            ]
        },
        actor="test",
    )


def test_groups_list_shows_counts_nesting_and_searches_by_prefix(any_registry: Registry) -> None:
    registry = any_registry
    _org(registry)
    with admin_browser(registry, role="reader") as admin:
        page = admin.client.get("/admin/groups")
        assert page.status_code == 200
        assert GROUP_LINK.findall(page.text) == ["All Staff", "Engineering", "Executives"]
        assert "read-only" in page.text.lower()
        row = re.search(r"<strong>Engineering</strong>.*?</tr>", page.text, re.DOTALL)
        assert row is not None
        assert '<td class="num">2</td>' in row.group(0)
        assert "All Staff" in row.group(0)  # its parent
        top = re.search(r"<strong>All Staff</strong>.*?</tr>", page.text, re.DOTALL)
        assert top is not None
        assert "Engineering, Executives" in top.group(0)  # its children
        assert "Top level" in top.group(0)
        found = admin.client.get("/admin/groups", params={"q": "EX"}).text
        assert GROUP_LINK.findall(found) == ["Executives"]
        assert GROUP_LINK.findall(admin.client.get("/admin/groups?q=staff").text) == []


def test_groups_list_pages(registry: Registry) -> None:
    for i in range(55):
        registry.directory.add_group(f"Team {i:02d}")
    with admin_browser(registry) as admin:
        first = admin.client.get("/admin/groups").text
        assert GROUP_LINK.findall(first) == [f"Team {i:02d}" for i in range(50)]
        assert "page=2" in first
        second = admin.client.get("/admin/groups?page=2").text
        assert GROUP_LINK.findall(second) == [f"Team {i:02d}" for i in range(50, 55)]
        assert "55 groups" in second


def test_group_page_shows_members_nesting_and_profiles(any_registry: Registry) -> None:
    registry = any_registry
    _org(registry)
    engineering = registry.directory.get_group("Engineering")
    executives = registry.directory.get_group("Executives")
    top = registry.directory.get_group("All Staff")
    with admin_browser(registry, role="reader") as admin:
        page = admin.client.get(f"/admin/groups/{engineering.id}")
        assert page.status_code == 200
        assert re.findall(r"<td><code>([^<]+)</code></td>", page.text) == ["ada", "alan"]
        assert f'<a href="/admin/groups/{top.id}">All Staff</a>' in page.text
        assert "No profile includes or excludes this group" in page.text
        parent = admin.client.get(f"/admin/groups/{top.id}").text
        assert "Engineering" in parent
        assert "Executives" in parent
        assert "Included" in parent
        assert "members come from its nested groups" in parent
        excluded = admin.client.get(f"/admin/groups/{executives.id}").text
        assert "Excluded" in excluded
        assert "Employees" in excluded
        assert admin.client.get("/admin/groups/nope").status_code == 404


def test_group_members_page(registry: Registry) -> None:
    registry.directory.add_group("Big")
    for i in range(52):
        registry.directory.add_user(
            username=f"u{i:02d}", given_name="U", family_name="Test", groups=["Big"]
        )
    group_id = registry.directory.get_group("Big").id
    with admin_browser(registry) as admin:
        first = admin.client.get(f"/admin/groups/{group_id}").text
        assert len(re.findall(r"<td><code>([^<]+)</code></td>", first)) == 50
        assert "52 direct members" in first
        second = admin.client.get(f"/admin/groups/{group_id}?page=2").text
        assert re.findall(r"<td><code>([^<]+)</code></td>", second) == ["u50", "u51"]


def test_groups_pages_need_an_admin_and_have_no_inline_script(registry: Registry) -> None:
    _org(registry)
    group_id = registry.directory.get_group("Engineering").id
    with admin_browser(registry, role="reader") as admin:
        for url in ("/admin/groups", "/admin/groups?q=e", f"/admin/groups/{group_id}"):
            page = admin.client.get(url)
            assert page.status_code == 200
            assert INLINE.search(page.text) is None, page.text
        admin.client.post("/signout", data={"csrf_token": admin.csrf})
        assert admin.client.get("/admin/groups").status_code == 303


def test_absurd_page_numbers_are_clamped_not_server_errors(registry: Registry) -> None:
    with admin_browser(registry) as admin:
        huge = str(2**70)
        assert admin.client.get(f"/admin/groups?page={huge}").status_code in (200, 422)
        assert admin.client.get(f"/admin/reports?page={huge}").status_code in (200, 422)
