"""R32: the namesake index (``user_name_keys``) stays exact on every write path, and
``DirectoryService.find_namesakes`` finds every account whose names fit a credential's with one
indexed lookup, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy import insert, select, text

from ssar.directory.importer import ImportRow
from ssar.directory.namesakes import (
    MAX_SEARCH_KEYS,
    TooManyNamesakes,
    search_keys,
    stored_key,
    user_name_keys,
)
from ssar.directory.repository import namesake_candidates
from ssar.errors import ValidationFailed
from ssar.recovery.matching import directory_name_keys, select_account
from ssar.registry import Registry
from ssar.store.db import Database
from ssar.store.migrate import alembic_config, upgrade
from ssar.store.tables import UserNameKeyRow, UserRow
from ssar.web.app import create_app
from tests.conftest import T0

PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def _keys(registry: Registry, user_id: str | None = None) -> set[tuple[str, str]] | set[str]:
    with registry.database.transaction() as session:
        if user_id is not None:
            return set(
                session.execute(
                    select(UserNameKeyRow.key).where(UserNameKeyRow.user_id == user_id)
                ).scalars()
            )
        return {
            (k, u) for k, u in session.execute(select(UserNameKeyRow.key, UserNameKeyRow.user_id))
        }


def _expected(registry: Registry) -> set[tuple[str, str]]:
    """What the index must hold: every user under the keys of their current family name."""
    with registry.database.transaction() as session:
        rows = session.execute(select(UserRow.id, UserRow.family_name)).all()
    return {(k, user_id) for user_id, family in rows for k in user_name_keys(family)}


def _ids(users: tuple[object, ...]) -> set[str]:
    return {u.id for u in users}  # type: ignore[attr-defined]


# --- the write paths keep the index exact ------------------------------------------------------


def test_R32_add_user_indexes_the_family_name_keys(any_registry: Registry) -> None:
    d = any_registry.directory
    user = d.add_user(username="hm", given_name="Hans", family_name="Müller")
    assert _keys(any_registry, user.id) == {"mueller", "muller"}
    assert _keys(any_registry, user.id) == directory_name_keys(family="Müller")
    d.add_user(username="go", given_name="Ana", family_name="García-López O'Neil")
    assert _keys(any_registry) == _expected(any_registry)
    assert ("garcialopezoneil", d.get_user("go").id) in _keys(any_registry)


def test_R32_import_indexes_every_created_user_and_skips_existing(any_registry: Registry) -> None:
    d = any_registry.directory
    d.add_user(username="u0", given_name="Zoë", family_name="Øster")
    rows = [
        ImportRow(
            line=i + 2, username=f"u{i}", given_name="Jürgen", family_name=family, display_name="x"
        )
        for i, family in enumerate(["Ignored", "Schäfer", "van der Berg", "Straße", "Schäfer"])
    ]
    result = d.import_users(rows)
    assert (result.created, result.skipped) == (4, 1)
    keys = _keys(any_registry)
    assert keys == _expected(any_registry)
    assert ("oester", d.get_user("u0").id) in keys  # the existing user kept their keys only
    assert {k for k, u in keys if u == d.get_user("u1").id} == {"schaefer", "schafer"}
    assert {k for k, u in keys if u == d.get_user("u3").id} == {"strasse"}


def test_R32_import_in_several_batches_keeps_the_index_exact(any_registry: Registry) -> None:
    from ssar.directory.service import DirectoryService

    d = DirectoryService(
        database=any_registry.database, clock=any_registry.clock, import_batch_size=7
    )
    rows = [
        ImportRow(
            line=i + 2,
            username=f"b{i}",
            given_name="G",
            family_name=f"Fam{i % 5} Öz",
            display_name="x",
        )
        for i in range(40)
    ]
    assert d.import_users(rows).created == 40
    assert _keys(any_registry) == _expected(any_registry)
    assert len(_keys(any_registry)) == 80  # "famNoez" and "famNoz" for each user


def test_R32_family_name_change_rewrites_keys_other_changes_keep_them(
    any_registry: Registry,
) -> None:
    d = any_registry.directory
    user = d.add_user(username="ms", given_name="Maria", family_name="Schmidt")
    other = d.add_user(username="ot", given_name="Otto", family_name="Schmidt")
    d.update_user(user.id, given_name="Marie", birthdate="1990-01-01")
    assert _keys(any_registry, user.id) == {"schmidt"}
    d.update_user(user.id, family_name="Jäger-Groß")
    assert _keys(any_registry, user.id) == {"jaegergross", "jagergross"}
    assert _keys(any_registry, other.id) == {"schmidt"}  # the namesake is untouched
    d.update_user(user.id, family_name="JÄGER-GROSS")  # other spelling, same keys
    assert _keys(any_registry, user.id) == {"jaegergross", "jagergross"}
    assert _keys(any_registry) == _expected(any_registry)
    assert _ids(d.find_namesakes(given="Marie", family="Schmidt", rule="relaxed")) == set()
    assert _ids(d.find_namesakes(given="Marie", family="Jager Gross", rule="relaxed")) == {user.id}


def test_R32_delete_user_removes_keys(any_registry: Registry) -> None:
    d = any_registry.directory
    gone = d.add_user(username="a", given_name="Ann", family_name="Lee")
    kept = d.add_user(username="b", given_name="Ann", family_name="Lee")
    d.delete_user(gone.id)
    assert _keys(any_registry) == {("lee", kept.id)}
    assert _ids(d.find_namesakes(given="Ann", family="Lee", rule="exact")) == {kept.id}


def test_R32_scim_put_and_patch_of_family_name_rewrite_keys(any_registry: Registry) -> None:
    token = any_registry.api_tokens.create(name="hr", scopes=["scim"]).token
    with TestClient(create_app(any_registry)) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        body = {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "kim",
            "name": {"givenName": "Kim", "familyName": "Åberg"},
        }
        response = client.post("/scim/v2/Users", json=body)
        assert response.status_code == 201, response.text
        user_id = response.json()["id"]
        assert _keys(any_registry, user_id) == {"aaberg", "aberg"}
        operations = [{"op": "replace", "path": "name.familyName", "value": "Lindqvist"}]
        response = client.patch(
            f"/scim/v2/Users/{user_id}", json={"schemas": [PATCH], "Operations": operations}
        )
        assert response.status_code == 200, response.text
        assert _keys(any_registry, user_id) == {"lindqvist"}
        body["name"] = {"givenName": "Kim", "familyName": "Ström"}
        response = client.put(f"/scim/v2/Users/{user_id}", json=body)
        assert response.status_code == 200, response.text
        assert _keys(any_registry, user_id) == {"stroem", "strom"}
    assert _keys(any_registry) == _expected(any_registry)


# --- find_namesakes ----------------------------------------------------------------------------


def test_R32_relaxed_finds_mueller_for_mueller_spelt_without_umlaut(any_registry: Registry) -> None:
    d = any_registry.directory
    muller = d.add_user(
        username="hm",
        given_name="Hans",
        family_name="Müller",
        birthdate="1970-02-03",
        employee_id="E1",
        emails=["hm@example.org"],
    )
    d.add_user(username="hx", given_name="Hans", family_name="Miller")
    found = d.find_namesakes(given="Hans", family="Mueller", rule="relaxed")
    assert _ids(found) == {muller.id}
    user = found[0]
    assert user == d.get_user_by_id(muller.id)  # the same domain model get_user returns
    assert (user.given_name, user.family_name, user.birthdate, user.employee_id) == (
        "Hans",
        "Müller",
        "1970-02-03",
        "E1",
    )
    assert [e.address for e in user.emails] == ["hm@example.org"]
    assert _ids(d.find_namesakes(given="HANS", family="Muller", rule="relaxed")) == {muller.id}


def test_R32_relaxed_finds_maria_garcia_for_maria_elena_garcia_lopez(
    any_registry: Registry,
) -> None:
    d = any_registry.directory
    garcia = d.add_user(username="mg", given_name="Maria", family_name="Garcia")
    lopez = d.add_user(username="ml", given_name="Maria", family_name="López")
    full = d.add_user(username="mgl", given_name="María Elena", family_name="García López")
    d.add_user(username="mf", given_name="Maria", family_name="Fernandez")  # other family name
    d.add_user(username="pg", given_name="Pedro", family_name="Garcia")  # shares a key only
    d.add_user(username="gl", given_name="Maria", family_name="Garcia-Lopez-Ruiz")
    found = d.find_namesakes(given="Maria Elena", family="Garcia Lopez", rule="relaxed")
    assert _ids(found) == {garcia.id, lopez.id, full.id}
    assert [u.username for u in found] == ["mg", "mgl", "ml"]  # ordered by username


def test_R32_exact_rule_finds_only_exact_names(any_registry: Registry) -> None:
    d = any_registry.directory
    muller = d.add_user(username="a", given_name="Hans", family_name="Müller")
    caps = d.add_user(username="b", given_name="hans", family_name="MÜLLER")
    d.add_user(username="c", given_name="Hans", family_name="Mueller")
    d.add_user(username="d", given_name="Hans Peter", family_name="Müller")
    found = d.find_namesakes(given="Hans", family="Müller", rule="exact")
    assert _ids(found) == {muller.id, caps.id}
    assert d.find_namesakes(given="Hans", family="Muller", rule="exact") == ()


def test_R32_namesakes_feed_select_account(any_registry: Registry) -> None:
    """Two accounts whose names fit the credential: refused unless a bound claim tells them apart."""
    d = any_registry.directory
    victim = d.add_user(
        username="v", given_name="John", family_name="Smith", birthdate="1980-01-01"
    )
    d.add_user(username="w", given_name="John", family_name="Smith", birthdate="1980-01-01")
    claims = {"given_name": "John", "family_name": "Smith", "birthdate": "1980-01-01"}
    others = d.find_namesakes(given="John", family="Smith", rule="relaxed")
    assert len(others) == 2
    decision = select_account(
        claims=claims,
        candidate=victim,
        others=others,
        claim_map={
            "given_name": "given_name",
            "family_name": "family_name",
            "birthdate": "birthdate",
        },
        rule="relaxed",
    )
    assert (decision.selected, decision.reason) == (False, "ambiguous_namesakes")


def test_R32_more_namesakes_than_the_limit_refuses_instead_of_truncating(
    any_registry: Registry,
) -> None:
    d = any_registry.directory
    for i in range(4):
        d.add_user(username=f"s{i}", given_name="Wei", family_name="Li")
    d.add_user(username="x", given_name="Ming", family_name="Li")  # shares the key, does not fit
    assert len(d.find_namesakes(given="Wei", family="Li", rule="exact", limit=4)) == 4
    with pytest.raises(TooManyNamesakes) as raised:
        d.find_namesakes(given="Wei", family="Li", rule="exact", limit=3)
    assert raised.value.code == "too_many_namesakes"
    with pytest.raises(ValidationFailed):
        d.find_namesakes(given="Wei", family="Li", rule="exact", limit=0)


def test_R32_names_that_fit_nobody_and_unknown_rules(any_registry: Registry) -> None:
    d = any_registry.directory
    d.add_user(username="a", given_name="Anna", family_name="Berg")
    assert d.find_namesakes(given="", family="Berg", rule="relaxed") == ()
    assert d.find_namesakes(given="Anna", family="---", rule="relaxed") == ()
    many = " ".join(["Berg"] * 17)  # more words than match_names accepts: fits nobody
    assert d.find_namesakes(given="Anna", family=many, rule="relaxed") == ()
    with pytest.raises(ValidationFailed):
        d.find_namesakes(given="Anna", family="Berg", rule="fuzzy")


def test_R32_search_keys_are_bounded() -> None:
    words = " ".join(f"w{i}ä" for i in range(16))  # 16 words, two forms each
    keys = search_keys(given=words, family=words.upper().replace("W", "V"), rule="relaxed")
    assert len(keys) == MAX_SEARCH_KEYS == 544
    assert all(len(k) <= 256 for k in keys)


def test_R32_keys_longer_than_the_column_are_stored_as_digests(any_registry: Registry) -> None:
    d = any_registry.directory
    family = "ß" * 200  # 200 characters; its relaxed key "ss" * 200 has 400
    user = d.add_user(username="long", given_name="Eszett", family_name=family)
    (stored,) = _keys(any_registry, user.id)
    assert stored == stored_key("ss" * 200)
    assert stored.startswith("sha256:")
    spelt = "ß" * 144 + "SS" * 56  # 256 characters, the same relaxed key
    assert len(stored) < 80
    assert _ids(d.find_namesakes(given="Eszett", family=spelt, rule="relaxed")) == {user.id}
    assert _ids(d.find_namesakes(given="Eszett", family=family, rule="exact")) == {user.id}


# --- the lookup is an index scan ---------------------------------------------------------------


def _populate(registry: Registry, count: int) -> None:
    families = ["Müller", "Garcia Lopez", "Smith", "Nguyen", "Øster", "Kowalski", "Rossi"]
    rows = [
        ImportRow(
            line=i + 2,
            username=f"p{i:05d}",
            given_name="Given",
            family_name=f"{families[i % len(families)]} {i}",  # mostly distinct keys
            display_name="x",
        )
        for i in range(count)
    ]
    assert registry.directory.import_users(rows).created == count


def test_R32_namesake_lookup_uses_the_key_index(any_registry: Registry) -> None:
    _populate(any_registry, 3000)
    keys = search_keys(given="Maria Elena", family="Garcia Lopez 15", rule="relaxed")
    statement = namesake_candidates(keys)
    engine = any_registry.database.engine
    sql = str(statement.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("ANALYZE user_name_keys"))
            conn.execute(text("ANALYZE users"))
            plan = "\n".join(conn.execute(text("EXPLAIN " + sql)).scalars())
            assert any(
                f"{scan} on pk_user_name_keys" in plan
                for scan in ("Index Scan", "Index Only Scan", "Bitmap Index Scan")
            ), plan
            assert "Seq Scan on user_name_keys" not in plan, plan
        else:
            rows = conn.execute(text("EXPLAIN QUERY PLAN " + sql)).all()
            plan = "\n".join(str(r[-1]) for r in rows)
            assert "user_name_keys USING" in plan, plan
            assert "INDEX" in plan, plan
            assert "SCAN user_name_keys" not in plan.replace("USING", "")
            assert "SCAN users" not in plan, plan
    found = any_registry.directory.find_namesakes(
        given="Given", family="Garcia Lopez 15", rule="relaxed"
    )
    assert [u.username for u in found] == ["p00015"]
    print(plan)  # shown with -s: the plan the report quotes


# --- the 0006 backfill -------------------------------------------------------------------------


@pytest.fixture
def at_0005(db_url: str) -> Iterator[Database]:
    db = Database(db_url)
    command.downgrade(alembic_config(db.engine), "0005")
    yield db
    db.dispose()


def test_R32_migration_0006_backfills_existing_users(at_0005: Database) -> None:
    users = [
        {"id": f"id-{i:04d}", "family_name": family}
        for i, family in enumerate(["Müller", "García López", "Øster", "—", "Smith"] * 1100)
    ]
    with at_0005.engine.begin() as conn:
        conn.execute(
            insert(UserRow.__table__),  # type: ignore[arg-type]
            [
                {
                    "id": u["id"],
                    "username": u["id"],
                    "username_key": u["id"],
                    "given_name": "G",
                    "family_name": u["family_name"],
                    "display_name": "G",
                    "enabled": True,
                    "privileged": False,
                    "created_at": T0,
                    "updated_at": T0,
                }
                for u in users
            ],
        )
    upgrade(at_0005.engine)
    with at_0005.engine.connect() as conn:
        stored = {
            (k, u) for k, u in conn.execute(select(UserNameKeyRow.key, UserNameKeyRow.user_id))
        }
    assert stored == {(k, u["id"]) for u in users for k in user_name_keys(u["family_name"])}
    assert len(stored) == 1100 * 6  # Müller 2, García López 1, Øster 2, — none, Smith 1
