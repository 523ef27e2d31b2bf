"""mockserver/ui.py without a browser: routes, headers, access, no external references, packaging.

The dashboard in a real browser is tests/test_ui_browser.py.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest
from flask import Flask

from tests.support import ROOT
from vismock.mockserver.app import create_app
from vismock.mockserver.openapi import document

ASSET_FOLDER = ROOT / "mockserver" / "ui"
REMOTE = {"REMOTE_ADDR": "192.0.2.7"}  # TEST-NET-1: not loopback


def _app(tmp_path: Path, token: str | None = None) -> Flask:
    config: dict[str, object] = {"VISMOCK_DB": str(tmp_path / "state.sqlite3")}
    if token:
        config["VISMOCK_ADMIN_TOKEN"] = token
    return create_app(config)


def test_ui_redirects_to_the_page_with_a_slash(tmp_path: Path) -> None:
    answer = _app(tmp_path).test_client().get("/_vismock/ui")
    assert answer.status_code == 308
    assert answer.headers["Location"].endswith("/_vismock/ui/")


@pytest.mark.parametrize(
    ("path", "content_type", "marker"),
    [
        ("/_vismock/ui/", "text/html; charset=utf-8", b"<title>vismock dashboard</title>"),
        ("/_vismock/ui/app.js", "text/javascript; charset=utf-8", b'"use strict";'),
        ("/_vismock/ui/style.css", "text/css; charset=utf-8", b".topbar"),
    ],
)
def test_the_page_and_its_files_are_served(
    tmp_path: Path, path: str, content_type: str, marker: bytes
) -> None:
    answer = _app(tmp_path).test_client().get(path)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == content_type
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["Cache-Control"] == "no-cache"
    assert marker in answer.data


def test_the_page_may_load_only_its_own_files(tmp_path: Path) -> None:
    policy = _app(tmp_path).test_client().get("/_vismock/ui/").headers["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["default-src"] == "'none'"
    for directive in ("script-src", "style-src", "connect-src"):
        assert directives[directive] == "'self'"


@pytest.mark.parametrize("name", ["admin.py", "..%2Fadmin.py", "index.htm", "ui.py", "%2e%2e"])
def test_nothing_else_is_served(tmp_path: Path, name: str) -> None:
    answer = _app(tmp_path).test_client().get(f"/_vismock/ui/{name}")
    assert answer.status_code == 404


def test_without_a_token_only_loopback_clients_get_the_page(tmp_path: Path) -> None:
    client = _app(tmp_path).test_client()
    for path in ("/_vismock/ui/", "/_vismock/ui/app.js", "/_vismock/ui"):
        refused = client.get(path, environ_base=REMOTE)
        assert refused.status_code == 403
        assert refused.get_json() == client.get("/_vismock/tasks", environ_base=REMOTE).get_json()
    assert client.get("/_vismock/ui/", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200


def test_with_a_token_the_files_are_served_and_the_data_needs_the_token(tmp_path: Path) -> None:
    client = _app(tmp_path, token="s3cret").test_client()
    assert client.get("/_vismock/ui/", environ_base=REMOTE).status_code == 200
    assert client.get("/_vismock/tasks", environ_base=REMOTE).status_code == 401
    authorised = client.get(
        "/_vismock/tasks", environ_base=REMOTE, headers={"Authorization": "Bearer s3cret"}
    )
    assert authorised.status_code == 200
    assert b"s3cret" not in client.get("/_vismock/ui/").data


def test_the_files_reference_nothing_outside_the_server() -> None:
    for path in ASSET_FOLDER.iterdir():
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"\b(?:https?|wss?|ftp):", text), path.name
        assert "@import" not in text and "url(" not in text, path.name
    page = (ASSET_FOLDER / "index.html").read_text(encoding="utf-8")
    references = re.findall(r'(?:src|href)="([^"]*)"', page)
    assert sorted(references) == ["app.js", "data:,", "style.css"]
    landing = (ASSET_FOLDER / "landing.html").read_text(encoding="utf-8")
    assert all(link.startswith(("/", "data:")) for link in re.findall(r'(?:src|href)="([^"]*)"', landing))


def test_every_admin_call_of_the_page_is_a_documented_operation() -> None:
    """The page's calls, read from app.js: method and path (its literal prefix when built)."""
    script = (ASSET_FOLDER / "app.js").read_text(encoding="utf-8")
    calls = set(
        re.findall(r'(?:api|act)\((?:[^()"]*"[^"]*",\s*)?"(GET|POST|PUT|DELETE)",\s*"(/[^"]*)"', script)
    )
    assert len(calls) >= 12, calls
    operations = {
        (method.upper(), path.removeprefix("/_vismock"))
        for path, item in document()["paths"].items()
        for method in item
        if method in ("get", "post", "put", "delete")
    }
    for method, path in calls:
        prefix = path.split("?")[0]
        assert any(m == method and p.startswith(prefix) for m, p in operations), (method, path)


def test_the_root_is_a_page_of_links_that_all_answer(tmp_path: Path) -> None:
    """``GET /``, the URL the start-up line prints: every link on it answers (a loopback client)."""
    client = _app(tmp_path).test_client()
    answer = client.get("/")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "text/html; charset=utf-8"
    assert answer.headers["Content-Security-Policy"].startswith("default-src 'none';")
    page = answer.get_data(as_text=True)
    links = re.findall(r'href="(/[^"]*)"', page)
    assert sorted(links) == [
        "/_vismock/health",
        "/_vismock/openapi.json",
        "/_vismock/ui/",
        "/sdk/vimServiceVersions.xml",
    ]
    for link in links:
        assert client.get(link).status_code == 200, link
    for face in ("POST /adapter", "/sdk", "/_vismock/"):
        assert f"<code>{face}</code>" in page, face


def test_the_root_page_names_documents_that_exist() -> None:
    page = (ASSET_FOLDER / "landing.html").read_text(encoding="utf-8")
    named = re.findall(r"<code>((?:docs/)?[\w-]+\.md)</code>", page)
    assert len(named) >= 3, named
    for document_name in named:
        assert (ROOT / document_name).is_file(), document_name


def test_the_root_page_answers_any_client(tmp_path: Path) -> None:
    # It holds nothing of the mock's state, like /_vismock/health.
    assert _app(tmp_path).test_client().get("/", environ_base=REMOTE).status_code == 200


@pytest.mark.slow
def test_the_wheel_carries_the_dashboard_and_the_api_document(built_wheel: Path) -> None:
    wheel = built_wheel
    names = set(zipfile.ZipFile(wheel).namelist())
    files = ("ui/index.html", "ui/app.js", "ui/style.css", "ui/landing.html", "ui.py", "data/openapi.yaml")
    for name in (*files, "openapi.py"):
        assert f"vismock/mockserver/{name}" in names, name
