"""Many files: finding them (folders, git changes), reading them, spreading them over processes."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from tests.support import DATA
from vismock.cli import main
from vismock.codec import batch
from vismock.codec.parsing import ParseFailure, read_file
from vismock.codec.workers import ForkedMap

SEED = DATA / "seed"
INVALID = DATA / "codec" / "invalid"


# -- reading ---------------------------------------------------------------------------------


def test_read_file_reads_exactly_the_file(tmp_path: Path) -> None:
    document = (SEED / "response.xml").read_bytes()
    (tmp_path / "a.xml").write_bytes(document)
    (tmp_path / "empty.xml").write_bytes(b"")
    assert read_file(tmp_path / "a.xml", len(document)) == document
    assert read_file(tmp_path / "empty.xml", 10) == b""


def test_read_file_refuses_more_than_the_limit(tmp_path: Path) -> None:
    (tmp_path / "a.xml").write_bytes(b"x" * 101)
    with pytest.raises(ParseFailure) as raised:
        read_file(tmp_path / "a.xml", 100)
    assert (raised.value.issue.kind, raised.value.issue.reason) == (
        "size",
        "document is larger than the limit of 100 bytes",
    )


def test_read_file_of_unknown_size_stops_at_the_limit(tmp_path: Path) -> None:
    """A pipe says size 0: it is read in chunks, and refused once past the limit."""
    read_end, write_end = os.pipe()
    os.write(write_end, b"y" * 5000)
    os.close(write_end)
    with pytest.raises(ParseFailure):
        read_file(f"/proc/self/fd/{read_end}", 4999)
    os.close(read_end)
    read_end, write_end = os.pipe()
    os.write(write_end, b"<a/>")
    os.close(write_end)
    assert read_file(f"/proc/self/fd/{read_end}", 4999) == b"<a/>"
    os.close(read_end)


def test_read_file_past_its_first_read(tmp_path: Path) -> None:
    """A file larger than the first read is read whole (again from its start, in one call); a
    pipe that long in chunks; both refused past the limit."""
    document = bytes(range(256)) * 1000  # 256,000 bytes: four first reads' worth
    (tmp_path / "big.xml").write_bytes(document)
    assert read_file(tmp_path / "big.xml", len(document)) == document
    with pytest.raises(ParseFailure):
        read_file(tmp_path / "big.xml", len(document) - 1)
    for limit, expected in ((len(document), document), (len(document) - 1, None)):
        read_end, write_end = os.pipe()
        writer = threading.Thread(target=_write_and_close, args=(write_end, document))
        writer.start()
        try:
            if expected is None:
                with pytest.raises(ParseFailure):
                    read_file(f"/proc/self/fd/{read_end}", limit)
            else:
                assert read_file(f"/proc/self/fd/{read_end}", limit) == expected
        finally:
            os.close(read_end)  # a writer blocked on a full pipe gets EPIPE and stops
            writer.join()


def _write_and_close(fd: int, data: bytes) -> None:
    with contextlib.suppress(BrokenPipeError), os.fdopen(fd, "wb") as pipe:
        pipe.write(data)


# -- finding files -----------------------------------------------------------------------------


def test_directories_give_their_xml_files_below_sorted(tmp_path: Path) -> None:
    for name in ("b/2.xml", "a/z/1.xml", "a/0.xml", "c.xml", "notes.txt", "d.xml/inner.xml"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"<x/>")
    inputs = batch.collect_inputs([str(tmp_path)])
    assert [os.path.relpath(f, tmp_path) for f in inputs.files] == [
        "a/0.xml",
        "a/z/1.xml",
        "b/2.xml",
        "c.xml",
        "d.xml/inner.xml",
    ]
    assert inputs.problems == []


def test_files_below_the_working_directory_are_named_without_dot_slash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "sub").mkdir()
    for name in ("a.xml", "sub/b.xml"):
        (tmp_path / name).write_bytes(b"<x/>")
    monkeypatch.chdir(tmp_path)
    assert batch.collect_inputs(["."]).files == ["a.xml", "sub/b.xml"]
    assert batch.collect_inputs(["./sub/"]).files == ["sub/b.xml"]
    assert batch.collect_inputs([f"{tmp_path}/"]).files == [
        str(tmp_path / "a.xml"),
        str(tmp_path / "sub" / "b.xml"),
    ]


def test_a_folder_reached_again_through_a_link_is_listed_once(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "1.xml").write_bytes(b"<x/>")
    (tmp_path / "a" / "b" / "loop").symlink_to(tmp_path / "a")  # a/b/loop -> a: a cycle
    inputs = batch.collect_inputs([str(tmp_path)])
    assert [os.path.relpath(f, tmp_path) for f in inputs.files] == ["a/1.xml"]
    assert inputs.problems == []


def test_a_folder_that_cannot_be_listed_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "locked").mkdir()
    (tmp_path / "ok.xml").write_bytes(b"<x/>")
    scandir = os.scandir

    def refusing(path: str) -> object:  # chmod 0 does not stop root, who runs CI: refuse here
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied", path)
        return scandir(path)

    monkeypatch.setattr(os, "scandir", refusing)
    inputs = batch.collect_inputs([str(tmp_path)])
    assert inputs.files == [str(tmp_path / "ok.xml")]
    assert [(p.name, p.unreadable) for p in inputs.problems] == [
        (str(tmp_path / "locked"), "Permission denied")
    ]


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A git repository: main has two valid payloads; the branch changes one, breaks it, adds an
    invalid one (committed) and leaves an untracked one, and deletes nothing."""
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "config", "user.email", "ci@example.invalid")
    git(tmp_path, "config", "user.name", "ci")
    (tmp_path / "payloads").mkdir()
    shutil.copy(SEED / "request.xml", tmp_path / "payloads" / "unchanged.xml")
    shutil.copy(SEED / "request.xml", tmp_path / "payloads" / "edited.xml")
    shutil.copy(SEED / "response.xml", tmp_path / "other.xml")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "payloads")
    git(tmp_path, "checkout", "-q", "-b", "feature")
    shutil.copy(INVALID / "bad-boolean.xml", tmp_path / "payloads" / "added.xml")
    (tmp_path / "payloads" / "notes.txt").write_text("changed, not XML")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "added")
    shutil.copy(INVALID / "bad-enum-state.xml", tmp_path / "payloads" / "edited.xml")  # not committed
    shutil.copy(SEED / "response.xml", tmp_path / "payloads" / "untracked.xml")
    monkeypatch.chdir(tmp_path / "payloads")  # names are given relative to where the command runs
    return tmp_path


def test_changed_since_takes_the_changed_committed_and_untracked_xml(repo: Path) -> None:
    inputs = batch.changed_inputs("main", [])
    assert inputs.files == ["added.xml", "edited.xml", "untracked.xml"]
    assert batch.changed_inputs("main", ["../other.xml"]).files == []  # unchanged: left out
    assert batch.changed_inputs("main", ["added.xml"]).files == ["added.xml"]
    assert batch.changed_inputs("HEAD", []).files == ["edited.xml", "untracked.xml"]


def test_validate_changed_since_reports_only_changed_files(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", "--changed-since", "main", "--verbose", "."]) == 1
    out, err = capsys.readouterr()
    assert [line.split(":")[0] for line in out.splitlines()] == ["added.xml", "edited.xml", "untracked.xml"]
    assert err == "3 files: 1 valid, 2 invalid, 2 issues\n"
    git(repo, "checkout", "-q", "--", ".")
    (repo / "payloads" / "untracked.xml").unlink()
    (repo / "payloads" / "added.xml").unlink()
    assert main(["validate", "--changed-since", "main"]) == 0  # a deleted file is no change to check
    assert capsys.readouterr().err == "0 files: 0 valid, 0 invalid, 0 issues\n"
    assert main(["validate", "--changed-since", "main", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["files"] == []


def test_changed_since_a_bad_ref_is_a_one_line_usage_error(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", "--changed-since", "no-such-branch"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("vismock validate: --changed-since: ") and err.count("\n") == 1
    assert "no-such-branch" in err


# -- spreading the work ------------------------------------------------------------------------


def square_all(numbers: list[int]) -> list[int]:
    return [number * number for number in numbers]


def test_forked_map_keeps_chunk_order_across_processes() -> None:
    chunks = [[n, n + 1] for n in range(0, 400, 2)]
    assert list(ForkedMap(square_all, chunks, 3)) == [square_all(chunk) for chunk in chunks]


def test_forked_map_redoes_the_chunks_of_a_worker_that_died() -> None:
    caller = os.getpid()

    def dies_in_a_worker(numbers: list[int]) -> list[int]:
        if os.getpid() != caller and numbers[0] % 10 == 0:
            os._exit(3)  # a worker killed mid-batch (out of memory, a signal)
        return square_all(numbers)

    chunks = [[n] for n in range(200)]
    assert list(ForkedMap(dies_in_a_worker, chunks, 2)) == [[n * n] for n in range(200)]


def test_forked_map_works_on_when_no_process_can_be_started(monkeypatch: pytest.MonkeyPatch) -> None:
    def refused() -> int:
        raise BlockingIOError(11, "Resource temporarily unavailable")  # EAGAIN: at the process limit

    monkeypatch.setattr(os, "fork", refused)
    chunks = [[n] for n in range(50)]
    assert list(ForkedMap(square_all, chunks, 4)) == [[n * n] for n in range(50)]


def test_forked_map_stopped_early_leaves_no_worker() -> None:
    mapped = ForkedMap(square_all, [list(range(n, n + 50)) for n in range(0, 50_000, 50)], 2)
    results = mapped.__iter__()
    assert next(results) == square_all(list(range(50)))
    workers = [pid for pid, _ in mapped.workers.values()]
    assert workers  # still working on the rest
    results.close()  # the reader went away (`vismock validate . | head -1`)
    for pid in workers:
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # stopped and reaped already


@pytest.mark.parametrize(
    ("files", "jobs", "tail"),
    [(1000, 2, 32), (5000, 2, 32), (100_000, 2, 32), (1_000_000, 64, 512)],  # 64 processes: 1,024 tickets
)
def test_chunks_shrink_towards_the_end_and_stay_within_the_tickets(files: int, jobs: int, tail: int) -> None:
    names = [f"{number}.xml" for number in range(files)]
    chunks = batch._chunked(names, jobs, 1024)
    assert [name for chunk in chunks for name in chunk] == names
    assert len(chunks) <= 1024
    sizes = [len(chunk) for chunk in chunks]
    assert sizes == sorted(sizes, reverse=True)  # the largest first: the processes end together
    assert sizes[-2] == tail


def test_a_large_batch_is_validated_in_workers_in_input_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(batch, "PARALLEL_FROM", 20)
    monkeypatch.setattr(batch, "MIN_CHUNK_FILES", 7)
    template = (SEED / "response.xml").read_bytes()
    bad = (INVALID / "bad-enum-state.xml").read_bytes()
    names = []
    for number in range(90):
        path = tmp_path / f"doc-{number:03d}.xml"
        path.write_bytes(bad if number % 7 == 3 else template)
        names.append(str(path))
    results = list(batch.validate_all(names, b"", batch.Settings(), jobs=2))
    assert [r.name for r in results] == names
    assert [r.valid for r in results] == [number % 7 != 3 for number in range(90)]
    assert results[3].issues[0].line == 17
