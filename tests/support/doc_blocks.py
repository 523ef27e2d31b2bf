"""Code blocks of the docs that the suite runs or checks, found by the HTML comment before them.

A block is marked by a comment on the line before its fence: ``<!-- run -->`` (run it),
``<!-- excerpt: PATH -->`` (its lines appear in that file, in order) or ``<!-- ci-recipe: NAME -->``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

BLOCK = re.compile(
    r"^<!-- (?P<marker>[\w-]+)(?::\s*(?P<argument>[^>]*?))? -->\n```(?P<language>\w*)\n(?P<code>.*?)^```$",
    re.S | re.M,
)
EXPECTED = re.compile(r"#\s*=>\s*(.+?)\s*$", re.M)


@dataclass(frozen=True, slots=True)
class Block:
    marker: str
    argument: str
    language: str
    code: str
    line: int  # of the fence, in the document

    @property
    def expected(self) -> list[str]:
        """What the block's ``# => TEXT`` comments say its output shows, in order."""
        return EXPECTED.findall(self.code)


def marked_blocks(path: Path, marker: str) -> list[Block]:
    text = path.read_text(encoding="utf-8")
    return [
        Block(
            found["marker"],
            (found["argument"] or "").strip(),
            found["language"],
            found["code"],
            text.count("\n", 0, found.start()) + 2,
        )
        for found in BLOCK.finditer(text)
        if found["marker"] == marker
    ]
