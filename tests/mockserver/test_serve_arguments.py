"""``vismock serve``'s arguments checked before anything starts: in process, nothing is served."""

from __future__ import annotations

import pytest

from tests.support import DATA
from vismock.cli import main


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (["--port", "99999"], "a port is 0 to 65535 (0 picks a free one), not 99999"),
        (["--port", "65536"], "a port is 0 to 65535 (0 picks a free one), not 65536"),
        (["--port", "-1"], "a port is 0 to 65535 (0 picks a free one), not -1"),
        (["--port=eighty"], "expected a port number, not 'eighty'"),
    ],
)
def test_a_port_out_of_range_is_a_one_line_usage_error(
    given: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serve", *given]) == 2
    error = capsys.readouterr().err
    assert error == f"vismock serve: argument --port: {message} (see 'vismock serve --help')\n"


def test_every_mistake_of_the_task_file_is_reported_before_serving(
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = DATA / "tasks" / "several" / "two-mistakes.toml"
    expected = [f"{path}:{line}" for line in path.with_suffix(".expected").read_text().splitlines()]
    assert main(["serve", "--port", "0", "--tasks", str(path)]) == 2
    assert capsys.readouterr().err.splitlines() == [f"vismock serve: {expected[0]}", *expected[1:]]
