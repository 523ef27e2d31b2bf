"""The reports ``vismock validate`` writes: for people (text) and for the tools pipelines use.

- ``text``: one line per issue, ``file:line: path: reason``;
- ``json``: a summary and every file's issues;
- ``junit``: JUnit XML, one test case per file (CI test reports);
- ``github``: GitHub Actions workflow commands, ``::error file=...,line=...::...``, which the
  runner turns into annotations on the pull request;
- ``sarif``: SARIF 2.1.0, the format of code-scanning tools (GitHub code scanning, GitLab, IDEs).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, Any, NamedTuple

from vismock import __version__
from vismock.codec.batch import STDIN_NAME, FileResult
from vismock.codec.errors import IssueKind, ValidationIssue

TOOL_NAME = "vismock validate"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SOURCE_ROOT = "SRCROOT"
# Each kind of issue is a SARIF rule; code scanning groups alerts by rule.
RULES: dict[IssueKind, str] = {
    "schema": "the document does not satisfy the operation's XSD",
    "rule": "the document breaks a rule XSD 1.0 cannot state (a user name needs a password)",
    "syntax": "the input is not well-formed XML",
    "unsafe": "the document uses a feature refused on untrusted input (a DTD, an entity)",
    "size": "the document is larger than the size limit",
    "encode": "a value could not be written as XML",
}


class ReportOptions(NamedTuple):
    verbose: bool = False  # text: also list valid files
    color: bool = False  # text: ANSI colours


Writer = Callable[[Iterable[FileResult], IO[str], ReportOptions], None]


def format_issue(name: str, issue: ValidationIssue) -> str:
    """``file:line: path: reason`` (the line is left out when there is none)."""
    where = f"{name}:{issue.line}" if issue.line is not None else name
    return f"{where}: {issue.path}: {issue.reason}"


def summary(results: list[FileResult]) -> dict[str, int]:
    """The counts of *results*, in one pass over them (a batch has hundreds of thousands)."""
    valid = invalid = unreadable = issues = 0
    for result in results:
        count = len(result.issues)
        if count:
            invalid += 1
            issues += count
        if result.unreadable is not None:
            unreadable += 1
        elif not count:
            valid += 1
    return {
        "files": len(results),
        "valid": valid,
        "invalid": invalid,
        "unreadable": unreadable,
        "issues": issues,
    }


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


# -- text ------------------------------------------------------------------------------------


BOLD, RED, GREEN, RESET = "\x1b[1m", "\x1b[31m", "\x1b[32m", "\x1b[0m"


def write_text(results: Iterable[FileResult], out: IO[str], options: ReportOptions) -> None:
    """Streams: each file's lines are written as soon as its result is known."""

    def paint(text: str, colour: str) -> str:
        return f"{colour}{text}{RESET}" if options.color else text

    for result in results:
        if result.unreadable is not None:
            print(f"{paint(result.name, BOLD)}: {paint('cannot read', RED)}: {result.unreadable}", file=out)
        for issue in result.issues:
            where = f"{result.name}:{issue.line}" if issue.line is not None else result.name
            print(f"{paint(where, BOLD)}: {issue.path}: {paint(issue.reason, RED)}", file=out)
        if options.verbose and result.valid:
            print(f"{paint(result.name, BOLD)}: {paint('valid', GREEN)}", file=out)


# -- json and junit ----------------------------------------------------------------------------


def write_json(results: Iterable[FileResult], out: IO[str], options: ReportOptions) -> None:
    """``{"summary": {...}, "files": [...]}``, one file a line: json's C encoder writes each line
    (json.dump with indent= runs its Python encoder, a second per 60,000 files)."""
    import json  # the modules of each format are imported by that format alone (start-up time)

    encode = json.JSONEncoder(ensure_ascii=False).encode  # one encoder (dumps makes one a call)
    listed = list(results)
    lines = ",\n".join(f"    {_json_line(result, encode)}" for result in listed)
    files = f"[\n{lines}\n  ]" if lines else "[]"
    out.write(f'{{\n  "summary": {json.dumps(summary(listed))},\n  "files": {files}\n}}\n')


def _json_line(result: FileResult, encode: Callable[[object], str]) -> str:
    """*result* as one line of JSON; a valid file's line differs from another's by its name alone
    (a test checks it is the encoder's line for the same dict)."""
    if result.valid:
        return f'{{"file": {encode(result.name)}, "valid": true, "issues": []}}'
    return encode(result.to_dict())


def write_junit(results: Iterable[FileResult], out: IO[str], options: ReportOptions) -> None:
    from lxml import etree

    listed = list(results)
    counts = summary(listed)
    suite = etree.Element(
        "testsuite",
        name=TOOL_NAME,
        tests=str(counts["files"]),
        failures=str(counts["invalid"]),
        errors=str(counts["unreadable"]),
    )
    for result in listed:
        case = etree.SubElement(suite, "testcase", classname="vismock.validate", name=result.name)
        if result.unreadable is not None:
            etree.SubElement(case, "error", message=f"cannot read: {result.unreadable}")
        elif result.issues:
            count = len(result.issues)
            failure = etree.SubElement(case, "failure", message=plural(count, "issue"), type="invalid")
            failure.text = "\n".join(format_issue(result.name, issue) for issue in result.issues)
    text = etree.tostring(suite, xml_declaration=True, encoding="UTF-8", pretty_print=True).decode()
    out.write(text)


# -- GitHub Actions workflow commands ------------------------------------------------------------


def write_github(results: Iterable[FileResult], out: IO[str], options: ReportOptions) -> None:
    """``::error file=F,line=L,title=T::MESSAGE``, escaped as the Actions runner unescapes
    (actions/runner ActionCommand.cs): ``%``, CR and LF everywhere, also ``:`` and ``,`` in
    property values, so a file name or a reason holding them arrives intact."""
    for result in results:
        file = {} if result.name == STDIN_NAME else {"file": result.name}
        if result.unreadable is not None:
            out.write(_command("error", {**file, "title": TOOL_NAME}, f"cannot read: {result.unreadable}"))
        for issue in result.issues:
            line = {} if issue.line is None else {"line": str(issue.line)}
            properties = {**file, **line, "title": f"{TOOL_NAME}: {issue.kind}"}
            out.write(_command("error", properties, f"{issue.path}: {issue.reason}"))


def _command(name: str, properties: dict[str, str], message: str) -> str:
    listed = ",".join(f"{key}={_escape_property(value)}" for key, value in properties.items())
    return f"::{name} {listed}::{_escape_data(message)}\n"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


# -- SARIF 2.1.0 ----------------------------------------------------------------------------------


def write_sarif(results: Iterable[FileResult], out: IO[str], options: ReportOptions) -> None:
    """One run of one tool; each issue a result with the file, the line and the XPath (as a
    logical location); files that could not be read are tool execution notifications."""
    import json

    listed = list(results)
    rule_ids = list(RULES)
    findings = [
        _sarif_result(result.name, issue, rule_ids.index(issue.kind))
        for result in listed
        for issue in result.issues
    ]
    unreadable = [
        {
            "level": "error",
            "message": {"text": f"cannot read: {result.unreadable}"},
            "locations": [_sarif_location(result.name, None, None)],
        }
        for result in listed
        if result.unreadable is not None
    ]
    run = {
        "tool": {"driver": _sarif_driver()},
        "originalUriBaseIds": {SOURCE_ROOT: {"uri": Path.cwd().as_uri() + "/"}},
        "invocations": [{"executionSuccessful": not unreadable, "toolExecutionNotifications": unreadable}],
        "results": findings,
    }
    log = {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}
    json.dump(log, out, indent=2, ensure_ascii=False)
    out.write("\n")


def _sarif_driver() -> dict[str, Any]:
    rules = [
        {
            "id": kind,
            "name": f"{kind.capitalize()}Issue",
            "shortDescription": {"text": text},
            "defaultConfiguration": {"level": "error"},
        }
        for kind, text in RULES.items()
    ]
    return {"name": TOOL_NAME, "version": __version__, "semanticVersion": __version__, "rules": rules}


def _sarif_result(name: str, issue: ValidationIssue, rule_index: int) -> dict[str, Any]:
    return {
        "ruleId": issue.kind,
        "ruleIndex": rule_index,
        "level": "error",
        "message": {"text": f"{issue.path}: {issue.reason}"},
        "locations": [_sarif_location(name, issue.line, issue.path)],
    }


def _sarif_location(name: str, line: int | None, xpath: str | None) -> dict[str, Any]:
    location: dict[str, Any] = {}
    if name != STDIN_NAME:
        physical: dict[str, Any] = {"artifactLocation": _artifact(name)}
        if line is not None:
            physical["region"] = {"startLine": line}
        location["physicalLocation"] = physical
    if xpath is not None:
        location["logicalLocations"] = [{"fullyQualifiedName": xpath, "kind": "element"}]
    return location


def _artifact(name: str) -> dict[str, str]:
    """A file below the working directory as a relative URI against SRCROOT (what code scanning
    maps onto the repository); any other as an absolute file URI."""
    from urllib.parse import quote

    relative = os.path.relpath(os.path.abspath(name))
    if relative.startswith(os.pardir + os.sep) or os.path.isabs(relative):
        return {"uri": Path(name).resolve().as_uri()}
    return {"uri": quote(Path(relative).as_posix()), "uriBaseId": SOURCE_ROOT}


WRITERS: dict[str, Writer] = {
    "text": write_text,
    "json": write_json,
    "junit": write_junit,
    "github": write_github,
    "sarif": write_sarif,
}
