"""``vismock serve``'s arguments checked before anything starts: in process, nothing is served."""

from __future__ import annotations

import pytest

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
