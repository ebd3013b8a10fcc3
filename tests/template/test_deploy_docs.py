"""docs/deploy.md's parameter tables against the templates: every parameter, with its default."""

from __future__ import annotations

import re

import pytest

from local.template import PROJECT_ROOT, load_template

DEPLOY_DOC = PROJECT_ROOT / "docs" / "deploy.md"
# A row of a parameter table: `Name` | `default` (or none) | meaning.
ROW = re.compile(r"^\| `(?P<name>\w+)` \| (?:`(?P<default>[^`]*)`|(?P<none>none)) \| (?P<meaning>[^|]+) \|$")


def documented(heading: str) -> dict[str, str | None]:
    """The table below `heading` in docs/deploy.md: each parameter's documented default (None: none)."""
    section = DEPLOY_DOC.read_text(encoding="utf-8").split(f"\n{heading}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    parameters: dict[str, str | None] = {}
    for line in rows:
        row = ROW.match(line)
        assert row is not None, f"not a parameter row (`Name` | `default` | meaning): {line}"
        assert row["name"] not in parameters, f"{row['name']} has two rows"
        assert row["meaning"].strip(), f"{row['name']} has no meaning"
        parameters[row["name"]] = None if row["none"] else row["default"].replace('""', "")
    return parameters


@pytest.mark.parametrize(
    ("template", "heading"),
    [
        ("template.yaml", "## Parameters of template.yaml"),
        ("infra/database.yaml", "## Parameters of infra/database.yaml"),
    ],
)
def test_every_parameter_is_in_the_table_with_its_default(template: str, heading: str) -> None:
    parameters = load_template(PROJECT_ROOT / template)["Parameters"]
    expected = {name: None if "Default" not in spec else str(spec["Default"]) for name, spec in parameters.items()}
    assert documented(heading) == expected
