"""Every repository path that docs/*.md names exists: backticked paths and relative links."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from local.template import PROJECT_ROOT

DOCS = sorted((PROJECT_ROOT / "docs").glob("*.md"))
FENCED_BLOCK = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
BACKTICKED = re.compile(r"`([^`\s]+)`")
LINK = re.compile(r"\]\(([^)\s]+)\)")
# Top-level entries a path may start with: what the repository holds, not what runs leave behind.
ROOTS = {path.name for path in PROJECT_ROOT.iterdir() if not path.name.startswith(".")} | {".github", ".ci"}
# Placeholders and patterns (`functions/<op>/app.py`, `migrations/NNNN_*.sql`) name no one file.
PATTERN = re.compile(r"[<>*{}]|NNNN")
CODE_FILE = re.compile(r"^\w+\.(py|sql)$")


def named_paths(text: str) -> set[str]:
    """The repository paths among a page's backticked words: rooted paths, and bare .py/.sql names."""
    words = set(BACKTICKED.findall(FENCED_BLOCK.sub("", text)))
    return {word.rstrip("/") for word in words if _names_a_path(word)}


def _names_a_path(word: str) -> bool:
    if PATTERN.search(word):
        return False
    rooted = "/" in word and word.split("/", 1)[0] in ROOTS
    return rooted or word.startswith("tasks_core/") or CODE_FILE.match(word) is not None


def missing(word: str) -> bool:
    """True when no file or folder of the repository is `word`."""
    if CODE_FILE.match(word):  # a bare module or migration name: somewhere in the tree
        return not any(next((PROJECT_ROOT / root).rglob(word), None) for root in ROOTS)
    if word.startswith("tasks_core/"):
        return not (PROJECT_ROOT / "layers" / "tasks_core" / word).exists()
    return not (PROJECT_ROOT / word).exists()


@pytest.mark.parametrize("page", DOCS, ids=[page.name for page in DOCS])
def test_backticked_paths_exist(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    assert sorted(word for word in named_paths(text) if missing(word)) == []


@pytest.mark.parametrize("page", DOCS, ids=[page.name for page in DOCS])
def test_relative_links_resolve(page: Path) -> None:
    targets = [link.split("#", 1)[0] for link in LINK.findall(page.read_text(encoding="utf-8"))]
    local = [target for target in targets if target and "://" not in target and not target.startswith("mailto:")]
    assert sorted(target for target in local if not (page.parent / target).exists()) == []


def test_the_path_check_reads_what_it_should() -> None:
    words = named_paths("`local/gateway/asgi.py`, `tests/e2e/` and `db.py`; `functions/<op>/app.py`; `make run`")
    assert words == {"local/gateway/asgi.py", "tests/e2e", "db.py"}
    assert missing("local/no_such_module.py")
    assert not missing("local/gateway/asgi.py")
