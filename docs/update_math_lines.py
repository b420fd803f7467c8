"""Re-point the line numbers that docs/math.md cites after the code moved.

    python docs/update_math_lines.py

Each table row names a snippet of code and a ``file.py:N``; the snippet is
looked up in the file again, and where it occurs several times the occurrence
nearest the old line wins. tests/test_docs.py checks the result.
"""

import re
from pathlib import Path

ROOT = Path(__file__).parent.parent
ROW = re.compile(
    r"^(\|[^|]*\| `(?P<code>[^`]+)` \| \[`(?P<file>\w+\.py)):(\d+)`\]"
    r"\(([^#]+)#L\d+\)"
)


def repoint(line: str) -> str:
    m = ROW.match(line)
    if not m:
        return line
    old = int(m.group(4))
    text = (ROOT / "src" / "nlayer" / m["file"]).read_text().splitlines()
    hits = [i + 1 for i, t in enumerate(text) if t.strip().startswith(m["code"])]
    if not hits:
        raise SystemExit(f"{m['file']}: `{m['code']}` is gone; edit docs/math.md")
    new = min(hits, key=lambda n: abs(n - old))
    return f"{m.group(1)}:{new}`]({m.group(5)}#L{new})" + line[m.end() :]


if __name__ == "__main__":
    path = ROOT / "docs" / "math.md"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(repoint(line) for line in lines))
