"""``vismock validate --format github`` and ``--format sarif``, read the way their consumers read them:
workflow commands parsed as the GitHub Actions runner parses them, SARIF checked against the OASIS
SARIF 2.1.0 JSON schema (tests/data/sarif/, source named in its README)."""

from __future__ import annotations

import io
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft4Validator

from tests.support import DATA
from vismock.cli import main
from vismock.codec.batch import FileResult
from vismock.codec.errors import ValidationIssue
from vismock.codec.formats import ReportOptions, write_github, write_json

SEED = DATA / "seed"
INVALID = DATA / "codec" / "invalid"
SARIF_SCHEMA = json.loads((DATA / "sarif" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
STATE_PATH = "/vmware-infrastructure-response/RetrieveTaskStatusResponse/returnval/propSet/TaskInfo/state"


# -- JSON ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["a.xml", 'quote"back\\slash.xml', "t\u00e9l\u00e9\u2028.xml", "tab\tnl\n.xml"]
)
def test_a_valid_files_json_line_is_the_encoders(name: str) -> None:
    """A valid file's line is written from its name alone: the same text json writes for it."""
    results = [FileResult(name), FileResult(name, issues=(ValidationIssue("bad", "/x", 3),))]
    out = io.StringIO()
    write_json(results, out, ReportOptions())
    lines = out.getvalue().split("\n")[3:5]  # not splitlines(): U+2028 is a line break to it
    assert [line.strip().rstrip(",") for line in lines] == [
        json.dumps(result.to_dict(), ensure_ascii=False) for result in results
    ]
    assert json.loads(out.getvalue())["files"] == [result.to_dict() for result in results]


# -- GitHub workflow commands ------------------------------------------------------------------

# actions/runner, src/Runner.Common/ActionCommand.cs: the order in which the runner unescapes.
DATA_UNESCAPES = (("%0D", "\r"), ("%0A", "\n"), ("%25", "%"))
PROPERTY_UNESCAPES = (("%0D", "\r"), ("%0A", "\n"), ("%3A", ":"), ("%2C", ","), ("%25", "%"))


def unescape(text: str, mappings: tuple[tuple[str, str], ...]) -> str:
    for escaped, token in mappings:
        text = text.replace(escaped, token)
    return text


def parse_command(line: str) -> tuple[str, dict[str, str], str]:
    """The runner's ActionCommand.TryParseV2, line for line: ``::name k=v,k=v::data``."""
    message = line.lstrip()
    assert message.startswith("::"), line
    end = message.index("::", 2)
    info = message[2:end]
    name, _, listed = info.partition(" ")
    properties: dict[str, str] = {}
    for item in filter(None, listed.strip().split(",")):
        pair = [part for part in item.split("=", 1) if part]
        if len(pair) == 2:
            properties[pair[0]] = unescape(pair[1], PROPERTY_UNESCAPES)
    return name, properties, unescape(message[end + 2 :], DATA_UNESCAPES)


def test_github_annotations_carry_file_line_and_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.xml"
    shutil.copy(INVALID / "bad-enum-state.xml", bad)
    shutil.copy(SEED / "response.xml", tmp_path / "good.xml")
    assert main(["validate", "--format", "github", str(tmp_path)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1  # the valid file says nothing
    name, properties, message = parse_command(lines[0])
    assert name == "error"
    assert properties == {"file": str(bad), "line": "17", "title": "vismock validate: schema"}
    assert message == f"{STATE_PATH}: value must be one of ['queued', 'running', 'success', 'error']"


def test_github_escaping_survives_the_runners_parser() -> None:
    """A file name with ',' and ':' and a reason with '%', '::' and a line break arrive intact."""
    name = "payloads/a,b:c%25.xml"
    reason = "100% wrong :: not\r\nthis"
    results = [
        FileResult(name, issues=(ValidationIssue(reason=reason, path="/x", line=3),)),
        FileResult("missing,file.xml", unreadable="No such file or directory"),
        FileResult("<stdin>", issues=(ValidationIssue(reason="document is empty", path="/", kind="syntax"),)),
    ]
    out = io.StringIO()
    write_github(results, out, ReportOptions())
    lines = out.getvalue().splitlines()
    assert len(lines) == 3  # each command on one line: the line break was escaped
    assert parse_command(lines[0]) == (
        "error",
        {"file": name, "line": "3", "title": "vismock validate: schema"},
        f"/x: {reason}",
    )
    assert parse_command(lines[1]) == (
        "error",
        {"file": "missing,file.xml", "title": "vismock validate"},
        "cannot read: No such file or directory",
    )
    assert parse_command(lines[2]) == ("error", {"title": "vismock validate: syntax"}, "/: document is empty")


# -- SARIF 2.1.0 ------------------------------------------------------------------------------


def sarif_of(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    status = main(["validate", "--format", "sarif", *argv])
    log = json.loads(capsys.readouterr().out)
    errors = sorted(Draft4Validator(SARIF_SCHEMA).iter_errors(log), key=str)
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)
    return status, log


def test_sarif_is_valid_and_locates_each_issue(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "payloads").mkdir()
    shutil.copy(INVALID / "many-errors.xml", tmp_path / "payloads" / "many errors.xml")
    shutil.copy(INVALID / "billion-laughs.xml", tmp_path / "payloads" / "laughs.xml")
    shutil.copy(SEED / "request.xml", tmp_path / "payloads" / "request.xml")
    status, log = sarif_of(["payloads"], capsys)
    assert status == 1
    assert log["version"] == "2.1.0"
    (run,) = log["runs"]
    rules = [rule["id"] for rule in run["tool"]["driver"]["rules"]]
    results = run["results"]
    assert [r["ruleId"] for r in results] == ["unsafe", "schema", "schema", "schema", "schema"]
    assert all(rules[r["ruleIndex"]] == r["ruleId"] and r["level"] == "error" for r in results)
    first_schema = results[1]["locations"][0]
    assert first_schema["physicalLocation"] == {
        "artifactLocation": {"uri": "payloads/many%20errors.xml", "uriBaseId": "SRCROOT"},
        "region": {"startLine": 3},
    }
    assert first_schema["logicalLocations"] == [
        {"fullyQualifiedName": "/vmware-infrastructure-response/metadata/status", "kind": "element"}
    ]
    assert results[1]["message"]["text"] == (
        "/vmware-infrastructure-response/metadata/status: value must be one of ['success', 'error']"
    )
    assert run["originalUriBaseIds"]["SRCROOT"]["uri"] == tmp_path.as_uri() + "/"
    assert run["invocations"] == [{"executionSuccessful": True, "toolExecutionNotifications": []}]


def test_sarif_tells_unreadable_files_and_stdin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)

    class Stdin:
        buffer = io.BytesIO((INVALID / "bad-boolean.xml").read_bytes())

    monkeypatch.setattr(sys, "stdin", Stdin)
    status, log = sarif_of(["-", "missing.xml", str(SEED / "response.xml")], capsys)
    assert status == 2
    (run,) = log["runs"]
    (invocation,) = run["invocations"]
    assert invocation["executionSuccessful"] is False
    (notification,) = invocation["toolExecutionNotifications"]
    assert notification["message"]["text"] == "cannot read: no such file or directory"
    assert notification["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "missing.xml"
    (result,) = run["results"]  # stdin's issue: located by its XPath only
    assert "physicalLocation" not in result["locations"][0]
    assert result["locations"][0]["logicalLocations"][0]["fullyQualifiedName"].endswith("/cancelled")
    # A file outside the working directory is named by its absolute file URI.
    status, log = sarif_of([str(INVALID / "bad-int.xml")], capsys)
    uri = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == (INVALID / "bad-int.xml").as_uri()
