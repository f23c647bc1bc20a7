"""The testing guide (``tests/README.md``) points at tests and files that exist."""

from __future__ import annotations

import re
from pathlib import Path

TESTS = Path(__file__).resolve().parent
GUIDE = TESTS / "README.md"

TEST_LINK = re.compile(r"\[`(\w+)`\]\(([\w/]+\.py)\)")
"""A link such as [`test_arithmetic_is_exact`](cogs/test_arithmetic.py)."""

FILE_LINK = re.compile(r"\]\(([\w/.]+\.(?:py|md))\)")


def test_guide_links_point_at_real_tests() -> None:
    links = TEST_LINK.findall(GUIDE.read_text())
    assert len(links) >= 20, "the guide should link its patterns to tests"
    missing = [
        f"{name} in {path}"
        for name, path in links
        if not re.search(
            rf"^\s*(?:(?:async )?def {name}\(|class {name}\b)", (TESTS / path).read_text(), re.M
        )
    ]
    assert missing == []


def exists_or_is_written(page: Path, target: str) -> bool:
    """A link's target exists, or is a figures page that a command writes (``RECORD=1``) and
    ``docs/figures/README.md`` lists: a fresh clone may not have measured it yet."""
    path = (page.parent / target.split("#", maxsplit=1)[0]).resolve()
    figures = TESTS.parent / "docs" / "figures"
    if path.parent == figures and path.suffix == ".md" and not path.exists():
        return f"]({path.name})" in (figures / "README.md").read_text()
    return path.exists()


def test_guide_links_point_at_real_files() -> None:
    paths = FILE_LINK.findall(GUIDE.read_text())
    assert paths
    assert [path for path in paths if not exists_or_is_written(GUIDE, path)] == []


DOC_LINK = re.compile(r"\]\((?!https?:|#|mailto:)([^)\s]+)\)")
"""A relative link in markdown: ``[text](path)`` or ``[text](path#anchor)``."""


def test_every_relative_link_in_the_docs_points_at_a_real_file() -> None:
    root = TESTS.parent
    pages = [root / "README.md", GUIDE, *sorted((root / "docs").rglob("*.md"))]
    broken = [
        f"{page.relative_to(root)}: {target}"
        for page in pages
        for target in DOC_LINK.findall(page.read_text())
        if not exists_or_is_written(page, target)
    ]
    assert broken == []
