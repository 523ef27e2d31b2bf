"""``vismock validate``, ``decode`` and ``encode`` through ``vismock.cli.main``."""

from __future__ import annotations

import io
import json
import os
import shutil
import sys
import time
from pathlib import Path

import pytest
from lxml import etree

import vismock.codec as codec
from tests.support import DATA
from vismock.cli import main
from vismock.codec import batch as codec_batch
from vismock.codec import cli as codec_cli

SEED = DATA / "seed"
INVALID = DATA / "codec" / "invalid"
STATES = "['queued', 'running', 'success', 'error']"
STATE_PATH = "/vmware-infrastructure-response/RetrieveTaskStatusResponse/returnval/propSet/TaskInfo/state"


class FakeStdin:
    """sys.stdin with bytes behind it, as a pipe would give."""

    def __init__(self, data: bytes) -> None:
        self.buffer = io.BytesIO(data)


@pytest.fixture
def batch(tmp_path: Path) -> Path:
    """A folder with two valid documents (one nested) and one invalid one."""
    (tmp_path / "nested").mkdir()
    shutil.copy(SEED / "request.xml", tmp_path / "a-request.xml")
    shutil.copy(SEED / "response.xml", tmp_path / "nested" / "c-response.xml")
    shutil.copy(INVALID / "bad-enum-state.xml", tmp_path / "b-bad.xml")
    (tmp_path / "notes.txt").write_text("not XML, not picked up")
    return tmp_path


# -- validate ------------------------------------------------------------------------------


def test_validate_valid_files_prints_nothing_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(SEED / "request.xml"), str(SEED / "response.xml")]) == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert err == "2 files: 2 valid, 0 invalid, 0 issues\n"


def test_validate_verbose_lists_valid_files(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--verbose", str(SEED / "request.xml")]) == 0
    assert capsys.readouterr().out == f"{SEED / 'request.xml'}: valid\n"


def test_validate_prints_one_line_per_issue_and_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    bad = INVALID / "many-errors.xml"
    assert main(["validate", str(bad)]) == 1
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert len(lines) == 4
    status_path = "/vmware-infrastructure-response/metadata/status"
    assert lines[0] == f"{bad}:3: {status_path}: value must be one of ['success', 'error']"
    assert lines[2].startswith(f"{bad}:17: {STATE_PATH}: value must be one of")
    assert err == "1 file: 0 valid, 1 invalid, 4 issues\n"


def test_validate_walks_directories_for_xml_files_in_order(
    batch: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", "--verbose", str(batch)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out == [
        f"{batch / 'a-request.xml'}: valid",
        f"{batch / 'b-bad.xml'}:17: {STATE_PATH}: value must be one of {STATES}",
        f"{batch / 'nested' / 'c-response.xml'}: valid",
    ]


def test_validate_reads_stdin(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "stdin", FakeStdin((INVALID / "bad-boolean.xml").read_bytes()))
    assert main(["validate", "-"]) == 1
    assert capsys.readouterr().out.startswith("<stdin>:18: /vmware-infrastructure-response/")


def test_validate_missing_path_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.xml"
    assert main(["validate", str(SEED / "request.xml"), str(missing)]) == 2
    out, err = capsys.readouterr()
    assert out == f"{missing}: cannot read: no such file or directory\n"
    assert "1 unreadable" in err


def test_validate_empty_directory_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(tmp_path)]) == 2
    assert "no *.xml files" in capsys.readouterr().out


def test_validate_unreadable_file_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "a-directory.xml"  # named like a file, but cannot be read as one
    folder.mkdir()
    result = codec_batch.validate_file(str(folder))
    assert result.unreadable and not result.valid


@pytest.mark.parametrize(
    "argv", [["validate"], ["validate", "--format", "yaml", "x.xml"], ["validate", "-j", "0", "x"]]
)
def test_validate_usage_errors_are_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("vismock validate: ") and err.count("\n") == 1  # one line, naming the command
    assert "(see 'vismock validate --help')" in err


def test_validate_takes_the_file_names_pre_commit_passes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """pre-commit runs the hook in the repository with the staged files' relative names."""
    (tmp_path / "payloads").mkdir()
    shutil.copy(SEED / "request.xml", tmp_path / "payloads" / "ok.xml")
    shutil.copy(INVALID / "bad-enum-state.xml", tmp_path / "payloads" / "bad state.xml")
    monkeypatch.chdir(tmp_path)
    assert main(["validate", "payloads/ok.xml", "payloads/bad state.xml"]) == 1
    out, err = capsys.readouterr()
    assert out == f"payloads/bad state.xml:17: {STATE_PATH}: value must be one of {STATES}\n"
    assert err == "2 files: 1 valid, 1 invalid, 1 issue\n"


def test_validate_quiet_prints_only_the_problems(batch: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "-q", str(batch)]) == 1
    out, err = capsys.readouterr()
    assert out.count("\n") == 1 and err == ""


@pytest.mark.parametrize(
    ("argv", "environment", "coloured"),
    [
        (["--color", "always"], {}, True),
        (["--color", "always"], {"NO_COLOR": "1"}, True),  # asked for: given
        (["--color", "auto"], {}, False),  # captured output is no terminal
        (["--color", "never"], {}, False),
    ],
)
def test_validate_colours_on_request(
    argv: list[str],
    environment: dict[str, str],
    coloured: bool,
    batch: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert main(["validate", "-v", *argv, str(batch)]) == 1
    out = capsys.readouterr().out
    assert ("\x1b[" in out) is coloured
    plain = out.replace("\x1b[1m", "").replace("\x1b[31m", "").replace("\x1b[32m", "").replace("\x1b[0m", "")
    assert f"{batch / 'b-bad.xml'}:17: {STATE_PATH}: value must be one of {STATES}" in plain.splitlines()


def test_auto_colour_on_a_terminal_unless_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert codec_cli._colour("auto") is True
    monkeypatch.setenv("NO_COLOR", "1")
    assert codec_cli._colour("auto") is False
    monkeypatch.setenv("NO_COLOR", "")  # no-color.org: set but empty does not count
    assert codec_cli._colour("auto") is True


def test_validate_against_another_catalog(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    schemas = tmp_path / "schemas"
    shutil.copytree(Path(codec.default_codec().schema_dir), schemas)
    xsd = schemas / "common.xsd"  # this catalog knows no error status
    xsd.write_text(xsd.read_text().replace('<xs:enumeration value="error"/>', ""))
    error_response = b"<vmware-infrastructure-response><metadata><status>error</status></metadata>"
    (tmp_path / "error.xml").write_bytes(error_response + b"</vmware-infrastructure-response>")
    assert main(["validate", str(tmp_path / "error.xml")]) == 0
    capsys.readouterr()
    assert main(["validate", "--schema-dir", str(schemas), str(tmp_path / "error.xml")]) == 1
    assert "value must be one of ['success']" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["validate"], "give a PATH"),
        (["validate", "--schema-dir", "/nonexistent", "x.xml"], "--schema-dir: cannot read /nonexistent/"),
    ],
)
def test_validate_cannot_run_as_asked_is_one_line_and_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith(f"vismock validate: {message}") and err.count("\n") == 1


def test_validate_json_format(batch: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--format", "json", str(batch)]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["summary"] == {"files": 3, "valid": 2, "invalid": 1, "unreadable": 0, "issues": 1}
    assert [(f["file"].rsplit("/", 1)[-1], f["valid"]) for f in report["files"]] == [
        ("a-request.xml", True),
        ("b-bad.xml", False),
        ("c-response.xml", True),
    ]
    (issue,) = report["files"][1]["issues"]
    assert issue == {
        "reason": "value must be one of ['queued', 'running', 'success', 'error']",
        "path": STATE_PATH,
        "line": 17,
        "value": "finished",
        "kind": "schema",
    }


def test_validate_junit_format(batch: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "missing.xml"
    assert main(["validate", "--format", "junit", str(batch), str(missing)]) == 2
    suite = etree.fromstring(capsys.readouterr().out.encode())
    assert suite.tag == "testsuite"
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("4", "1", "1")
    cases = {case.get("name").rsplit("/", 1)[-1]: case for case in suite.iter("testcase")}
    assert set(cases) == {"missing.xml", "a-request.xml", "b-bad.xml", "c-response.xml"}
    failure = cases["b-bad.xml"].find("failure")
    assert failure is not None and failure.get("message") == "1 issue"
    assert f":17: {STATE_PATH}: value must be one of" in (failure.text or "")
    assert cases["missing.xml"].find("error") is not None
    assert len(cases["a-request.xml"]) == 0


def test_validate_never_shows_a_password(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    secret = "Hunter2-Secret"
    document = (SEED / "request.xml").read_bytes()
    document = document.replace(b"<user-name></user-name>", b"<user-name>bmc</user-name>")
    document = document.replace(b"<password></password>", f"<password>{secret}<b/></password>".encode())
    (tmp_path / "leak.xml").write_bytes(document)
    for output in ("text", "json", "junit", "github", "sarif"):
        assert main(["validate", "--format", output, str(tmp_path)]) == 1
        out, err = capsys.readouterr()
        assert "password" in out and secret not in out + err


def test_validate_oversize_documents_with_max_bytes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--max-bytes", "100", str(SEED / "response.xml")]) == 1
    assert "larger than the limit of 100 bytes" in capsys.readouterr().out


def test_a_large_batch_uses_worker_processes_and_keeps_input_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(codec_batch, "PARALLEL_FROM", 20)
    monkeypatch.setattr(codec_batch, "MIN_CHUNK_FILES", 2)
    template = (SEED / "response.xml").read_bytes()
    bad = (INVALID / "bad-enum-state.xml").read_bytes()
    for number in range(60):
        (tmp_path / f"doc-{number:03d}.xml").write_bytes(bad if number % 7 == 3 else template)
    parent = os.getpid()
    forked = []
    real = codec_batch._validate_chunk

    def spy(names: list[str], settings: codec_batch.Settings) -> list[tuple[int, codec_batch.FileResult]]:
        forked.append(os.getpid() != parent)  # a worker appends to its own copy: this one sees its own
        time.sleep(0.002)  # however fast this process is, the worker gets chunks too
        return real(names, settings)

    monkeypatch.setattr(codec_batch, "_validate_chunk", spy)
    assert main(["validate", "--jobs", "2", "--format", "json", str(tmp_path)]) == 1
    report = json.loads(capsys.readouterr().out)
    names = [f["file"].rsplit("/", 1)[-1] for f in report["files"]]
    assert names == [f"doc-{number:03d}.xml" for number in range(60)]
    assert [f["valid"] for f in report["files"]] == [number % 7 != 3 for number in range(60)]
    assert forked and not any(forked)  # this process validated some chunks, a worker the rest
    assert len(forked) < 30


def test_the_progress_bar_only_shows_on_a_terminal(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    bar = codec_cli._Progress(codec_cli.PROGRESS_FROM)
    for _ in range(codec_cli.PROGRESS_FROM):
        bar.step()
    bar.done()
    err = capsys.readouterr().err
    assert err.startswith("\r[") and err.endswith(f"{codec_cli.PROGRESS_FROM}/{codec_cli.PROGRESS_FROM}\n")
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)
    quiet = codec_cli._Progress(10_000)
    quiet.step()
    quiet.done()
    assert capsys.readouterr().err == ""


# -- decode and encode ---------------------------------------------------------------------


def test_decode_prints_json_with_exact_datetimes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decode", str(SEED / "response.xml")]) == 0
    decoded = json.loads(capsys.readouterr().out)
    info = decoded["RetrieveTaskStatusResponse"]["returnval"][0]["propSet"]["TaskInfo"]
    assert info["queueTime"] == "2009-05-27T08:26:34.234375Z"
    assert info["cancelled"] is False and info["eventChainId"] == 71232
    assert decoded == codec.decode((SEED / "response.xml").read_bytes())


def test_decode_reads_stdin(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "stdin", FakeStdin((SEED / "request.xml").read_bytes()))
    assert main(["decode", "--indent", "0", "-"]) == 0
    assert json.loads(capsys.readouterr().out)["parameters"]["spec-set"]["object-set"] == [
        {"task": "task-525"}
    ]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            "bad-int.xml",
            ":26: /vmware-infrastructure-response/RetrieveTaskStatusResponse/returnval/propSet/"
            "TaskInfo/eventChainId: '71.5' is not a valid xs:int",
        ),
        ("billion-laughs.xml", ":2: /: DTDs and entity declarations are not allowed"),
        ("malformed-truncated.xml", ":14: /: malformed XML"),
    ],
)
def test_decode_invalid_input_is_exit_1_with_located_messages(
    name: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["decode", str(INVALID / name)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(f"{INVALID / name}{message}")
    assert "Traceback" not in err


def test_decode_missing_file_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decode", str(tmp_path / "nope.xml")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_encode_writes_the_document_from_json(
    tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    source = tmp_path / "response.json"
    source.write_text(json.dumps(codec.decode((SEED / "response.xml").read_bytes())))
    assert main(["encode", str(source)]) == 0
    xml = capsysbinary.readouterr().out
    assert xml.startswith(b"<?xml version='1.0' encoding='UTF-8'?>\n<vmware-infrastructure-response>")
    assert codec.decode(xml) == codec.decode((SEED / "response.xml").read_bytes())


def test_decode_then_encode_is_a_pipeline(
    monkeypatch: pytest.MonkeyPatch, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    assert main(["decode", str(SEED / "request.xml")]) == 0
    decoded = capsysbinary.readouterr().out
    monkeypatch.setattr(sys, "stdin", FakeStdin(decoded))
    assert main(["encode", "--root", "request", "-"]) == 0
    assert codec.decode(capsysbinary.readouterr().out) == codec.decode((SEED / "request.xml").read_bytes())


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"{not json", "<stdin>: not valid JSON"),
        (b"[1, 2]", "<stdin>: expected a JSON object (decode's form), got list"),
        (
            b'{"metadata": {"status": "meh"}}',
            "<stdin>: /vmware-infrastructure-response/metadata/status: value must be",
        ),
        (b'{"colour": 1}', "<stdin>: /: cannot tell request from response"),
        (b"\xff\xfe\x00", "<stdin>: not valid JSON"),
    ],
)
def test_encode_bad_input_is_exit_1_with_a_message(
    payload: bytes, message: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", FakeStdin(payload))
    assert main(["encode", "-"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.startswith(message) and "Traceback" not in err


def test_encode_root_can_be_forced(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", FakeStdin(json.dumps({"metadata": {"status": "success"}}).encode()))
    assert main(["encode", "--root", "request", "-"]) == 1
    assert "unknown element 'metadata'" in capsys.readouterr().err
