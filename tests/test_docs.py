"""docs/math.md cites lines of code; they must still say what it shows."""

import re
from pathlib import Path

ROOT = Path(__file__).parent.parent
ROW = re.compile(
    r"^\|[^|]*\| `(?P<code>[^`]+)` \| \[`(?P<file>\w+\.py):(?P<line>\d+)`\]"
)


def test_every_cited_line_holds_the_code_shown():
    rows = [
        m
        for line in (ROOT / "docs" / "math.md").read_text().splitlines()
        if (m := ROW.match(line))
    ]
    assert len(rows) >= 30
    for row in rows:
        lines = (ROOT / "src" / "nlayer" / row["file"]).read_text().splitlines()
        cited = lines[int(row["line"]) - 1].strip()
        if not cited.startswith(row["code"]):
            now_at = [
                i + 1
                for i, text in enumerate(lines)
                if text.strip().startswith(row["code"])
            ]
            raise AssertionError(
                f"docs/math.md cites {row['file']}:{row['line']} for "
                f"`{row['code']}`, which is now at line(s) {now_at}: "
                "run python docs/update_math_lines.py"
            )
