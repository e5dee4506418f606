"""The admin center's audit log (R30): filters, keyset pages, the JSON-lines export whose lines
re-verify, the recorded chain check, one event with its hashes, the admin API and the CLI export
filters — on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from ssar.audit import query
from ssar.audit.log import GENESIS, AuditLog, event_hash
from ssar.cli.main import app
from ssar.registry import Registry
from ssar.store.tables import AuditEventRow
from tests.support.admin import admin_browser
from tests.support.users import add_user
from tests.support.web import INLINE, page_client


def seed(registry: Registry, events: list[tuple[str, str, str | None, int]]) -> None:
    """(type, actor, user_id, minutes after now) each in its own transaction, as services do."""
    now = registry.clock.now()
    for i, (kind, actor, user_id, minutes) in enumerate(events):
        with registry.database.transaction() as session:
            AuditLog(session).append(
                kind,
                at=now + timedelta(minutes=minutes),
                actor=actor,
                user_id=user_id,
                ip="192.0.2.7",
                data={"i": i, "note": "Zoë"},
            )


def seed_mixed(registry: Registry) -> str:
    """A small known log: returns ada's user id."""
    ada = add_user(registry, "ada")
    seed(
        registry,
        [
            ("signin.succeeded", "user:ada", ada, 0),
            ("tap.issued", "user:root", ada, 60),
            ("tap.redeemed", "user:ada", ada, 61),
            ("recovery.started", "recovery", ada, 24 * 60),
            ("recovery.restored", "recovery", ada, 24 * 60 + 5),
            ("profile.created", "user:Root", None, 2 * 24 * 60),
            ("tap_policy.updated", "token:ci", None, 2 * 24 * 60 + 1),
        ],
    )
    return ada


def types_of(page: query.AuditPage) -> list[str]:
    return [e.type for e in page.events]


def _search(registry: Registry, flt: query.AuditFilter, **kw: Any) -> query.AuditPage:
    with registry.database.transaction() as session:
        return query.search(session, flt, **kw)


# --- the query service ------------------------------------------------------------------------


def test_filters_type_prefix_actor_user_and_dates(any_registry: Registry) -> None:
    ada = seed_mixed(any_registry)
    f = query.AuditFilter
    assert types_of(_search(any_registry, f())) == [
        "tap_policy.updated",
        "profile.created",
        "recovery.restored",
        "recovery.started",
        "tap.redeemed",
        "tap.issued",
        "signin.succeeded",
    ]
    # a family: "tap." must not take in "tap_policy." (the "_" is not a wildcard)
    assert types_of(_search(any_registry, f(type="tap."))) == ["tap.redeemed", "tap.issued"]
    assert types_of(_search(any_registry, f(type="recovery.*"))) == [
        "recovery.restored",
        "recovery.started",
    ]
    assert types_of(_search(any_registry, f(type="tap.issued"))) == ["tap.issued"]
    assert types_of(_search(any_registry, f(type="tap"))) == []  # exact, no family without "."
    # actor: case-insensitive part, or exact
    assert types_of(_search(any_registry, f(actor="ROOT"))) == ["profile.created", "tap.issued"]
    assert types_of(_search(any_registry, f(actor="user:root", actor_exact=True))) == ["tap.issued"]
    assert types_of(_search(any_registry, f(actor="%"))) == []  # no wildcard injection
    # user by username (any case) or by id
    by_name = types_of(_search(any_registry, f(user="ADA")))
    assert by_name == types_of(_search(any_registry, f(user=ada)))
    assert len(by_name) == 5
    assert types_of(_search(any_registry, f(user="nobody"))) == []
    # dates: since inclusive, until exclusive
    day0 = any_registry.clock.now()
    assert types_of(
        _search(any_registry, f(since=day0 + timedelta(days=1), until=day0 + timedelta(days=2)))
    ) == ["recovery.restored", "recovery.started"]
    assert types_of(_search(any_registry, f(type="tap.", actor="ada", user="ada"))) == [
        "tap.redeemed"
    ]
    # usernames come along for the table
    page = _search(any_registry, f(type="tap.issued"))
    assert page.events[0].username == "ada"


def test_keyset_pages_walk_both_ways_and_stop_at_the_ends(any_registry: Registry) -> None:
    seed(any_registry, [("test.event", "test", None, i) for i in range(120)])
    f = query.AuditFilter()
    first = _search(any_registry, f)
    assert [e.seq for e in first.events] == list(range(120, 70, -1))
    assert first.newer_after_seq is None
    assert first.older_before_seq == 71
    second = _search(any_registry, f, before_seq=71)
    assert [e.seq for e in second.events] == list(range(70, 20, -1))
    assert (second.newer_after_seq, second.older_before_seq) == (70, 21)
    last = _search(any_registry, f, before_seq=21)
    assert [e.seq for e in last.events] == list(range(20, 0, -1))
    assert (last.newer_after_seq, last.older_before_seq) == (20, None)
    back = _search(any_registry, f, after_seq=20)
    assert [e.seq for e in back.events] == list(range(70, 20, -1))
    assert (back.newer_after_seq, back.older_before_seq) == (70, 21)
    top = _search(any_registry, f, after_seq=70)
    assert [e.seq for e in top.events] == list(range(120, 70, -1))
    assert (top.newer_after_seq, top.older_before_seq) == (None, 71)
    # exactly one page left: no "older" link to an empty page
    exact = _search(any_registry, f, before_seq=51)
    assert len(exact.events) == 50
    assert exact.older_before_seq is None
    # past the end (a stale link): empty, with a way back
    past = _search(any_registry, f, before_seq=1)
    assert past.events == ()
    assert (past.newer_after_seq, past.older_before_seq) == (0, None)
    assert _search(any_registry, f, after_seq=0).events[-1].seq == 1


def test_filtered_pages_skip_what_does_not_match(any_registry: Registry) -> None:
    seed(any_registry, [("odd." if i % 2 else "even.", "test", None, i) for i in range(1, 131)])
    seed(any_registry, [("odd.", "test", None, 500)])  # seq 131
    flt = query.AuditFilter(type="even.")
    first = _search(any_registry, flt)
    assert [e.seq for e in first.events] == list(range(130, 30, -2))
    older = _search(any_registry, flt, before_seq=first.older_before_seq)
    assert [e.seq for e in older.events] == list(range(30, 0, -2))
    assert older.older_before_seq is None
    newer = _search(any_registry, flt, after_seq=older.newer_after_seq)
    assert newer.events == first.events
    assert newer.newer_after_seq is None  # seq 131 is odd


def test_event_types_and_choices(any_registry: Registry) -> None:
    seed_mixed(any_registry)
    with any_registry.database.transaction() as session:
        types = query.event_types(session)
    assert types == [
        "profile.created",
        "recovery.restored",
        "recovery.started",
        "signin.succeeded",
        "tap.issued",
        "tap.redeemed",
        "tap_policy.updated",
    ]
    values = [v for v, _ in query.type_choices(types)]
    assert values.index("recovery.") < values.index("recovery.restored")
    assert "tap." in values
    assert "tap_policy." in values


def test_export_lines_recompute_their_hashes_and_link_up(any_registry: Registry) -> None:
    seed_mixed(any_registry)
    lines = list(query.export_lines(any_registry.database, query.AuditFilter(), batch=3))
    records = [json.loads(line) for line in lines]
    assert [r["seq"] for r in records] == list(range(1, len(records) + 1))
    assert records[0]["prev_hash"] == GENESIS
    for before, record in zip([None, *records], records, strict=False):
        assert _recomputed(record) == record["hash"]
        if before is not None:
            assert record["prev_hash"] == before["hash"]
    assert records[0]["data"] == {"i": 0, "note": "Zoë"}
    tap_only = list(query.export_records(any_registry.database, query.AuditFilter(type="tap.")))
    assert [r["type"] for r in tap_only] == ["tap.issued", "tap.redeemed"]
    assert all(_recomputed(r) == r["hash"] for r in tap_only)
    assert list(query.export_records(any_registry.database, query.AuditFilter(), since_seq=6)) == [
        records[-1]
    ]


def _recomputed(record: dict[str, Any]) -> str:
    from datetime import datetime

    return event_hash(
        prev_hash=record["prev_hash"],
        seq=record["seq"],
        event_id=record["id"],
        at=datetime.fromisoformat(record["at"]),
        type=record["type"],
        actor=record["actor"],
        user_id=record["user_id"],
        ip=record["ip"],
        data=record["data"],
    )


# --- the pages --------------------------------------------------------------------------------


def test_audit_page_lists_events_with_links_and_filters(any_registry: Registry) -> None:
    with admin_browser(any_registry, role="reader") as admin:
        ada = seed_mixed(any_registry)
        page = admin.client.get("/admin/audit")
        assert page.status_code == 200
        html = page.text
        assert "Audit log" in html
        assert f'href="/admin/users/{ada}">ada</a>' in html
        assert f'href="/admin/users/{admin.user_id}">root</a>' in html  # its own sign-in
        assert 'href="/admin/audit/events/1"' in html
        assert 'href="/admin/audit/export.jsonl"' in html
        assert '<option value="recovery.">' in html
        assert "192.0.2.7" in html
        assert "note: Zoë" in html  # the summary of the data
        filtered = admin.client.get("/admin/audit", params={"type": "tap.", "user": "ada"})
        assert filtered.status_code == 200
        assert filtered.text.count('class="badge badge-') >= 2
        rows = re.findall(r'<td class="num"><a href="/admin/audit/events/(\d+)"', filtered.text)
        assert len(rows) == 2
        assert 'href="/admin/audit/export.jsonl?type=tap.&amp;user=ada"' in filtered.text
        assert '<option value="tap." selected>' in filtered.text
        bad = admin.client.get("/admin/audit", params={"since": "yesterday"})
        assert bad.status_code == 200
        assert "Use a date such as" in bad.text


def test_audit_page_pages_with_older_and_newer_links(registry: Registry) -> None:
    with admin_browser(registry, role="reader") as admin:
        seed(registry, [("test.event", "test", None, i) for i in range(60)])
        first = admin.client.get("/admin/audit", params={"type": "test."}).text
        match = re.search(r'href="(/admin/audit\?[^"]*before=\d+)"', first)
        assert match is not None
        older = admin.client.get(match.group(1).replace("&amp;", "&")).text
        assert "type=test.&amp;after=" in older
        shown = re.findall(r'<td class="num"><a href="/admin/audit/events/(\d+)"', older)
        assert len(shown) == 10


def test_export_download_is_an_attachment_of_the_filtered_events(any_registry: Registry) -> None:
    with admin_browser(any_registry, role="reader") as admin:
        seed_mixed(any_registry)
        response = admin.client.get("/admin/audit/export.jsonl", params={"type": "recovery."})
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/x-ndjson")
        assert response.headers["content-disposition"].startswith("attachment; filename=")
        records = [json.loads(line) for line in response.text.splitlines()]
        assert [r["type"] for r in records] == ["recovery.started", "recovery.restored"]
        assert all(_recomputed(r) == r["hash"] for r in records)


def test_a_reader_verifies_the_chain_and_the_check_is_audited(any_registry: Registry) -> None:
    with admin_browser(any_registry, role="reader") as admin:
        seed_mixed(any_registry)
        assert (
            "has not been verified from the admin center yet"
            in admin.client.get("/admin/audit").text
        )
        response = admin.post("/admin/audit/verify")
        assert response.status_code == 303
        assert response.headers["location"].startswith("/admin/audit?done=audit_verified")
        page = admin.client.get(response.headers["location"]).text
        assert "The audit chain was verified" in page
        assert "Intact" in page
        with any_registry.database.transaction() as session:
            event = session.execute(
                select(AuditEventRow).where(AuditEventRow.type == "audit.verified")
            ).scalar_one()
            assert event.actor == "user:root"
            assert event.data["intact"] is True
            assert event.data["events"] == event.seq - 1
            # now somebody edits an event behind the log's back
            session.execute(
                update(AuditEventRow).where(AuditEventRow.seq == 3).values(actor="user:nobody")
            )
        admin.post("/admin/audit/verify")
        page = admin.client.get("/admin/audit").text
        assert "Broken" in page
        assert 'href="/admin/audit/events/3">event #3</a>: event content changed' in page
        assert "danger-zone" in page
        detail = admin.client.get("/admin/audit/events/3").text
        assert "Content changed" in detail
        assert "Linked to previous" in detail


def test_verifying_needs_the_csrf_token(registry: Registry) -> None:
    with admin_browser(registry, role="reader") as admin:
        response = admin.client.post("/admin/audit/verify", data={})
        assert response.status_code == 403
        with registry.database.transaction() as session:
            assert (
                session.execute(
                    select(AuditEventRow).where(AuditEventRow.type == "audit.verified")
                ).first()
                is None
            )


def test_one_event_shows_every_field_and_its_hashes(any_registry: Registry) -> None:
    with admin_browser(any_registry, role="reader") as admin:
        ada = seed_mixed(any_registry)
        with any_registry.database.transaction() as session:
            row = session.execute(
                select(AuditEventRow).where(
                    AuditEventRow.type == "tap.issued", AuditEventRow.actor == "user:root"
                )
            ).scalar_one()
            seq, digest, prev = row.seq, row.hash, row.prev_hash
        page = admin.client.get(f"/admin/audit/events/{seq}")
        assert page.status_code == 200
        html = page.text
        assert digest in html
        assert prev in html
        assert "Hash matches content" in html
        assert "Linked to previous" in html
        assert (
            '<pre class="code">{\n  &#34;i&#34;: 1,\n  &#34;note&#34;: &#34;Zoë&#34;\n}</pre>'
            in (html)
        )
        assert f'href="/admin/users/{ada}">ada</a>' in html
        assert "user:root" in html
        assert "192.0.2.7" in html
        assert f'href="/admin/audit/events/{seq - 1}"' in html
        assert f'href="/admin/audit/events/{seq + 1}"' in html
        missing = admin.client.get("/admin/audit/events/99999", headers={"accept": "text/html"})
        assert missing.status_code == 404


def test_without_a_session_the_audit_pages_send_to_sign_in(registry: Registry) -> None:
    with page_client(registry) as client:
        for url in ("/admin/audit", "/admin/audit/events/1", "/admin/audit/export.jsonl"):
            response = client.get(url)
            assert response.status_code == 303, url
            assert response.headers["location"] == "/admin/signin"
        assert client.post("/admin/audit/verify", data={}).status_code in (303, 403)


def test_audit_pages_have_no_inline_script_style_or_handlers(registry: Registry) -> None:
    with admin_browser(registry, role="reader") as admin:
        seed_mixed(registry)
        admin.post("/admin/audit/verify")
        pages = [
            admin.client.get("/admin/audit"),
            admin.client.get("/admin/audit", params={"type": "tap.", "since": "x"}),
            admin.client.get("/admin/audit/events/2"),
        ]
    for page in pages:
        assert page.status_code == 200
        assert INLINE.search(page.text) is None, page.text


# --- the admin API ------------------------------------------------------------------------------


def _bearer(registry: Registry, scope: str) -> dict[str, str]:
    token = registry.api_tokens.create(name=f"t-{scope}", scopes=[scope]).token
    return {"authorization": f"Bearer {token}"}


def test_api_pages_filters_exports_and_verifies(any_registry: Registry) -> None:
    ada = seed_mixed(any_registry)
    seed(any_registry, [("test.event", "test", None, i) for i in range(5)])
    reader = _bearer(any_registry, "admin:read")  # token.created is event 13
    with page_client(any_registry) as client:
        first = client.get("/api/admin/audit/events", params={"limit": 4}, headers=reader)
        assert first.status_code == 200, first.text
        body = first.json()
        assert [e["seq"] for e in body["events"]] == [13, 12, 11, 10]
        assert body["next_before_seq"] == 10
        rest = client.get(
            "/api/admin/audit/events", params={"before_seq": 10, "limit": 500}, headers=reader
        ).json()
        assert [e["seq"] for e in rest["events"]] == list(range(9, 0, -1))
        assert rest["next_before_seq"] is None
        tap = client.get(
            "/api/admin/audit/events",
            params={"type": "tap.", "user": "ada", "since": "2026-11-23T09:30:00"},
            headers=reader,
        ).json()["events"]
        assert [(e["type"], e["username"], e["user_id"]) for e in tap] == [
            ("tap.redeemed", "ada", ada),
            ("tap.issued", "ada", ada),
        ]
        export = client.get("/api/admin/audit/export", params={"since_seq": 10}, headers=reader)
        assert export.headers["content-type"].startswith("application/x-ndjson")
        records = [json.loads(line) for line in export.text.splitlines()]
        assert [r["seq"] for r in records] == [11, 12, 13]
        assert all(_recomputed(r) == r["hash"] for r in records)
        verified = client.get("/api/admin/audit/verify", headers=reader).json()
        assert verified == {"intact": True, "events": 13, "first_broken_seq": None, "reason": None}
        # a read: the API's check is not itself an event
        assert client.get("/api/admin/audit/verify", headers=reader).json()["events"] == 13
        assert client.get("/api/admin/audit/events", headers=reader).status_code == 200
        assert (
            client.get("/api/admin/audit/events", params={"limit": 0}, headers=reader).status_code
            == 422
        )
        assert client.get("/api/admin/audit/events").status_code == 401
        scim = _bearer(any_registry, "scim")
        assert client.get("/api/admin/audit/export", headers=scim).status_code in (401, 403)


def test_api_routes_are_described_in_openapi(registry: Registry) -> None:
    with page_client(registry) as client:
        spec = client.get("/openapi.json").json()
    events = spec["paths"]["/api/admin/audit/events"]["get"]
    assert events["summary"]
    schema = events["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema["$ref"].endswith("/AuditEventsPage")
    assert {"401", "403"} <= set(events["responses"])
    export = spec["paths"]["/api/admin/audit/export"]["get"]
    assert "application/x-ndjson" in export["responses"]["200"]["content"]
    verify = spec["paths"]["/api/admin/audit/verify"]["get"]
    ref = verify["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert ref.endswith("/ChainVerificationView")


# --- the CLI ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "types"),
    [
        ([], 7),
        (["--type", "recovery."], ["recovery.started", "recovery.restored"]),
        (["--actor", "root", "--user", "ada"], ["tap.issued"]),
        (
            ["--since", "2026-11-24", "--until", "2026-11-24"],
            ["recovery.started", "recovery.restored"],
        ),
        (["--since-seq", "6"], ["tap_policy.updated"]),
    ],
)
def test_cli_export_filters(
    registry: Registry, tmp_path: Path, args: list[str], types: list[str] | int
) -> None:
    seed_mixed(registry)
    env = {"SSAR_DATABASE_URL": registry.settings.database_url, "SSAR_VAR_DIR": str(tmp_path)}
    result = CliRunner().invoke(app, ["audit", "export", *args], env=env)
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert set(records[0]) == {
        "seq", "id", "at", "type", "actor", "user_id", "ip", "data", "prev_hash", "hash",
    }  # fmt: skip
    if isinstance(types, int):
        assert len(records) == types
    else:
        assert [r["type"] for r in records] == types


def test_cli_export_refuses_a_bad_date(registry: Registry, tmp_path: Path) -> None:
    env = {"SSAR_DATABASE_URL": registry.settings.database_url, "SSAR_VAR_DIR": str(tmp_path)}
    result = CliRunner().invoke(app, ["audit", "export", "--since", "soon"], env=env)
    assert result.exit_code == 2


def test_out_of_range_bounds_are_refused_or_clamped_not_errors(registry: Registry) -> None:
    seed_mixed(registry)
    reader = _bearer(registry, "admin:read")
    huge = str(2**64)
    with admin_browser(registry, role="reader") as admin:
        for params in ({"before": huge}, {"after": huge}, {"before": "9" * 5000}):
            assert admin.client.get("/admin/audit", params=params).status_code == 200
        page = admin.client.get("/admin/audit", params={"before": str(2**63 - 1)}).text
        assert 'href="/admin/audit/events/1"' in page
        missing = admin.client.get(f"/admin/audit/events/{huge}", headers={"accept": "text/html"})
        assert missing.status_code == 404
        client = admin.client
        for params in (
            {"before_seq": huge},
            {"since": "0001-01-01T00:00:00+01:00"},
            {"until": "9999-12-31T23:59:59-01:00"},
        ):
            response = client.get("/api/admin/audit/events", params=params, headers=reader)
            assert response.status_code == 422, (params, response.text)
        response = client.get(
            "/api/admin/audit/events", params={"before_seq": str(2**63 - 1)}, headers=reader
        )
        assert response.status_code == 200
        assert len(response.json()["events"]) > 7
    with pytest.raises(ValueError, match="out of range"):
        query.parse_day("9999-12-31", end=True)
