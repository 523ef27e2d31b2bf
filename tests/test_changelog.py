"""CHANGELOG.md keeps the Keep a Changelog form, its newest version is the package's, and what it
links to exists; install hints are written so that they work in any shell."""

from __future__ import annotations

import re
import tomllib

from tests.support import ROOT

CHANGELOG = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
KINDS = ("Added", "Changed", "Deprecated", "Removed", "Fixed", "Security")
RELEASE = re.compile(r"^## \[(\d+\.\d+\.\d+)\] - (\d{4}-\d{2}-\d{2})$")


def test_unreleased_comes_first_then_releases_newest_first() -> None:
    versions = re.findall(r"^## (.*)$", CHANGELOG, re.M)
    assert versions[0] == "[Unreleased]"
    releases = [RELEASE.match(f"## {heading}") for heading in versions[1:]]
    assert releases and all(releases), versions
    numbers = [tuple(int(part) for part in found[1].split(".")) for found in releases if found]
    dates = [found[2] for found in releases if found]
    assert numbers == sorted(numbers, reverse=True) and dates == sorted(dates, reverse=True)


def test_the_newest_release_is_the_packages_version() -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    newest = re.search(r"^## \[(\d+\.\d+\.\d+)\]", CHANGELOG, re.M)
    assert newest is not None and newest[1] == version


def test_changes_are_grouped_by_kind() -> None:
    kinds = re.findall(r"^### (.*)$", CHANGELOG, re.M)
    assert kinds and set(kinds) <= set(KINDS), kinds


def test_every_file_it_links_exists() -> None:
    targets = re.findall(r"\]\(((?!https?:)[^)#]+)(?:#[^)]*)?\)", CHANGELOG)
    assert len(targets) >= 8
    for target in targets:
        assert (ROOT / target).is_file(), target


def test_extra_install_hints_are_quoted() -> None:
    """``pip install vismock[testing]`` unquoted is a glob to zsh ("no matches found")."""
    texts = [*ROOT.glob("*.md"), *(ROOT / "docs").glob("*.md"), *(ROOT / "src").rglob("*.py")]
    texts += [*(ROOT / "testing").rglob("*.py"), *(ROOT / "mockserver").rglob("*.py")]
    for path in texts:
        assert not re.search(r"pip install (?:-e )?vismock\[", path.read_text(encoding="utf-8")), path
