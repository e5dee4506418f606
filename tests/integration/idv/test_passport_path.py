"""The ePassport chip path of the reference verification service, through its pages: chip files
from ``ssar idv make-test-documents`` pass passive authentication against the CSCA it trusted;
chip data under another CSCA, and a selfie of another person, are refused with their codes."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from skimage import data
from typer.testing import CliRunner

from ssar.cli.main import app as cli
from ssar.idv.pages import verification
from ssar.idv.testpassport import make_passport
from tests.integration.idv.test_reference_recovery import _csrf, app  # noqa: F401 - fixture
from tests.support.faces import frames_for


def _documents(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, var_dir: Path, *extra: str
) -> dict[str, str]:
    monkeypatch.setenv("SSAR_VAR_DIR", str(var_dir))
    monkeypatch.setenv("SSAR_DATABASE_URL", f"sqlite:///{tmp_path}/cli.db")
    result = CliRunner().invoke(
        cli, ["idv", "make-test-documents", "--out", str(tmp_path / "docs"), *extra, "--json"]
    )
    assert result.exit_code == 0, result.output
    files: dict[str, str] = json.loads(result.stdout)
    return files


def _upload_passport(client: TestClient, sod: bytes, dg1: bytes, dg2: bytes) -> object:
    page = client.get("/idv")
    return client.post(
        "/idv/passport",
        data={"csrf_token": _csrf(page.text)},
        files={"sod": ("EF.SOD", sod), "dg1": ("DG1", dg1), "dg2": ("DG2", dg2)},
        follow_redirects=False,
    )


def test_passport_chip_passes_and_a_matching_selfie_gets_the_offer(
    app: tuple[object, TestClient],  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    registry, client = app
    files = _documents(tmp_path, monkeypatch, registry.settings.var_dir)  # type: ignore[attr-defined]
    read = {k: Path(v).read_bytes() for k, v in files.items() if k.startswith("passport")}
    answer = _upload_passport(
        client, read["passport_sod"], read["passport_dg1"], read["passport_dg2"]
    )
    assert answer.status_code == 303, answer.text[-500:]  # type: ignore[attr-defined]
    selfie = client.get("/idv/selfie")
    challenge = verification(registry).challenge(client.cookies["ssar_idv"])  # type: ignore[arg-type]
    frames = frames_for(challenge["poses"], seed=51)
    done = client.post(
        "/idv/selfie",
        headers={"x-csrf-token": _csrf(selfie.text)},
        data={"token": challenge["token"]},
        files=[("frames", (f"{i}.jpg", f, "image/jpeg")) for i, f in enumerate(frames)],
    )
    assert done.json() == {"redirect": "/idv/offer"}
    offer = client.get("/idv/offer").text
    assert re.search(r'id="tx-code" aria-label="PIN"><code>\d{6}<', offer)


def test_chip_data_under_another_csca_is_refused(
    app: tuple[object, TestClient],  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    registry, client = app
    _documents(tmp_path, monkeypatch, registry.settings.var_dir)  # type: ignore[attr-defined]
    stranger = make_passport(  # a fresh CSCA nobody trusted
        given="Ada",
        family="Lovelace",
        birthdate=date(1990, 12, 10),
        expiry=date(2031, 6, 30),
        number="UT0000001",
        portrait_rgb=np.ascontiguousarray(data.astronaut()),
    )
    answer = _upload_passport(client, stranger.sod, stranger.dg1, stranger.dg2)
    assert answer.status_code == 422  # type: ignore[attr-defined]
    assert 'data-code="csca_untrusted"' in answer.text  # type: ignore[attr-defined]


def test_a_selfie_of_another_person_is_refused(
    app: tuple[object, TestClient],  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The chip is genuine and its photo shows someone else than the person at the camera."""
    from tests.conftest import shared_path

    someone_else = shared_path("faces", "tests", "test_images", "biden.jpg")
    registry, client = app
    files = _documents(
        tmp_path,
        monkeypatch,
        registry.settings.var_dir,
        "--portrait",
        str(someone_else),  # type: ignore[attr-defined]
    )
    read = {k: Path(v).read_bytes() for k, v in files.items() if k.startswith("passport")}
    shown = _upload_passport(
        client, read["passport_sod"], read["passport_dg1"], read["passport_dg2"]
    )
    assert shown.status_code == 303  # type: ignore[attr-defined]
    selfie = client.get("/idv/selfie")
    challenge = verification(registry).challenge(client.cookies["ssar_idv"])  # type: ignore[arg-type]
    frames = frames_for(challenge["poses"], seed=52)  # the astronaut, live and turning
    answer = client.post(
        "/idv/selfie",
        headers={"x-csrf-token": _csrf(selfie.text)},
        data={"token": challenge["token"]},
        files=[("frames", (f"{i}.jpg", f, "image/jpeg")) for i, f in enumerate(frames)],
    ).json()
    assert answer["retry"]["attempts_left"] == 4
    from sqlalchemy import select

    from ssar.store.tables import IdvSessionRow

    with registry.database.transaction() as session:  # type: ignore[attr-defined]
        row = session.execute(select(IdvSessionRow)).scalar_one()
        assert row.state == "selfie"
        assert row.reason == "mismatch"
        assert row.face_score is not None
        assert row.face_score < 70


def test_a_typed_mrz_with_a_photo_of_the_data_page_is_fair_evidence(
    app: tuple[object, TestClient],  # noqa: F811
) -> None:
    from ssar.idv.testpassport import td3_zone
    from ssar.store.tables import IdvSessionRow

    registry, client = app
    mrz = td3_zone(
        given="Ada",
        family="Lovelace",
        number="UT1234567",
        birthdate=date(1990, 12, 10),
        expiry=date(2031, 6, 30),
    )
    photo = (Path(__file__).parents[3] / "src/ssar/idv/data/specimen-portrait.jpg").read_bytes()
    page = client.get("/idv")
    shown = client.post(
        "/idv/mrz",
        data={"csrf_token": _csrf(page.text), "mrz": mrz},
        files={"photo": ("page.jpg", photo, "image/jpeg")},
        follow_redirects=False,
    )
    assert shown.status_code == 303, shown.text[-500:]
    from sqlalchemy import select

    with registry.database.transaction() as session:  # type: ignore[attr-defined]
        row = session.execute(select(IdvSessionRow)).scalar_one()
        assert (row.strength, row.document_type, row.issuing_country) == ("FAIR", "passport", "UTO")
    # one wrong check digit: refused with its code
    broken = mrz[:-1] + ("0" if mrz[-1] != "0" else "1")
    page = client.get("/idv")
    refused = client.post(
        "/idv/mrz",
        data={"csrf_token": _csrf(page.text), "mrz": broken},
        files={"photo": ("page.jpg", photo, "image/jpeg")},
        follow_redirects=False,
    )
    assert refused.status_code == 422
    assert 'data-code="mrz_check_digit"' in refused.text
