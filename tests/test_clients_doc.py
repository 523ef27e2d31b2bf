"""docs/clients.md holds only what runs: each block marked ``<!-- run -->`` runs against a real
``vismock serve``, reset first, and shows what its ``# =>`` comments say; each excerpt is in its file."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import ROOT
from tests.support.components import required
from tests.support.doc_blocks import Block, marked_blocks
from tests.support.served import Served, served

CLIENTS = ROOT / "docs" / "clients.md"
RUN = marked_blocks(CLIENTS, "run")
EXCERPTS = marked_blocks(CLIENTS, "excerpt")
GOVC = Path(os.environ.get("VISMOCK_GOVC", "/tmp/govc"))
GOVC_HOW = "build it with ../shared/anchors/govc/build.sh, or set VISMOCK_GOVC"


def test_the_page_runs_each_kind_of_client() -> None:
    assert [block.language for block in RUN].count("python") >= 1
    assert len(RUN) >= 5 and all(block.expected for block in RUN), (
        "a run block that shows nothing proves little"
    )
    assert any("govc " in block.code for block in RUN) and any("/adapter" in block.code for block in RUN)


@pytest.mark.parametrize("block", EXCERPTS, ids=lambda block: f"line-{block.line}")
def test_an_excerpt_is_in_its_file_in_order(block: Block) -> None:
    lines = [line.strip() for line in (ROOT / block.argument).read_text(encoding="utf-8").splitlines()]
    position = 0
    for line in block.code.splitlines():
        assert line.strip() in lines[position:], f"{block.argument} has no line {line.strip()!r} here"
        position = lines.index(line.strip(), position) + 1


@pytest.fixture(scope="module")
def mock() -> Iterator[Served]:
    with served() as server:
        yield server


def tools_folder(folder: Path, code: str) -> Path:
    """A folder for PATH holding the tools *code* calls that are not installed commands (govc)."""
    if "govc " in code:
        (folder / "govc").symlink_to(required(GOVC, "govc", GOVC_HOW))
    return folder


@pytest.mark.slow  # a real `vismock serve`, and real clients
@pytest.mark.parametrize("block", RUN, ids=lambda block: f"line-{block.line}-{block.language}")
def test_a_run_block_runs_against_vismock_serve(block: Block, mock: Served, tmp_path: Path) -> None:
    mock.call("POST", "/_vismock/reset", b"", "application/json")  # each block starts from the loaded state
    code = block.code.replace("127.0.0.1:8080", f"127.0.0.1:{mock.port}").replace(
        "port=8080", f"port={mock.port}"
    )
    command = (
        [sys.executable, "-c", code]
        if block.language == "python"
        else ["bash", "-euo", "pipefail", "-c", code]
    )
    path = os.pathsep.join(
        [str(tools_folder(tmp_path, code)), str(Path(sys.executable).parent), os.environ["PATH"]]
    )
    result = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=120, env={**os.environ, "PATH": path}
    )
    assert result.returncode == 0, result.stdout + result.stderr
    position = 0
    for expected in block.expected:
        found = result.stdout.find(expected, position)
        assert found >= 0, f"docs/clients.md:{block.line}: {expected!r} not shown:\n{result.stdout}"
        position = found + len(expected)
