"""docs/deploy.md's parameter tables against the templates: every parameter, with its default."""

from __future__ import annotations

import json
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


STAGES = ("sandbox", "dev", "staging", "prod")
# A row of the per-stage table: `Name` | a value (`x`) or "default" for each stage.
STAGE_ROW = re.compile(r"^\| `(?P<name>\w+)` \| (?P<cells>.+) \|$")


def test_the_per_stage_table_is_what_samconfig_sets() -> None:
    # infra/params/<stage>.json is samconfig.toml's parameter_overrides (tests/template/test_params.py).
    section = DEPLOY_DOC.read_text(encoding="utf-8").split("\n## Per stage\n", 1)[1].split("\n## ", 1)[0]
    table: dict[str, dict[str, str]] = {stage: {} for stage in STAGES}
    for line in section.splitlines():
        row = STAGE_ROW.match(line)
        if row is None:
            continue
        cells = [cell.strip() for cell in row["cells"].split(" | ")]
        assert len(cells) == len(STAGES), line
        for stage, cell in zip(STAGES, cells, strict=True):
            if cell != "default":
                assert re.fullmatch(r"`[^`]*`", cell), line
                table[stage][row["name"]] = cell.strip("`")
    for stage in STAGES:
        given = json.loads((PROJECT_ROOT / "infra" / "params" / f"{stage}.json").read_text(encoding="utf-8"))
        assert table[stage] == {item["ParameterKey"]: item["ParameterValue"] for item in given}, stage
