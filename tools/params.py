"""CloudFormation parameter files per stage, generated from samconfig.toml.

`sam deploy --config-env <env>` reads its parameter overrides and tags from samconfig.toml; a
plain CloudFormation deploy reads them from infra/params/. Both come from the same table, so the
two deploy paths cannot drift: `make params` rewrites the files and a test fails when they differ
from what samconfig.toml gives.

Three files per stage, because each consumer reads its own shape:
  <stage>.json                  --parameters file://... of `aws cloudformation create-change-set`,
                                create-stack, update-stack and create-stack-set
  <stage>.tags.json             --tags file://... of the same commands
  <stage>.template-config.json  a CodePipeline CloudFormation action's TemplateConfiguration

    python -m tools.params                    write infra/params/ (what `make params` runs)
    python -m tools.params check              exit 1 when a file differs from samconfig.toml
    python -m tools.params merge dev [--outputs db.json] [K=V ...]
                                              the stage's parameters plus this account's values
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from samtranslator.yaml_helper import yaml_parse

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SAMCONFIG_PATH = PROJECT_ROOT / "samconfig.toml"
TEMPLATE_PATH = PROJECT_ROOT / "template.yaml"
PARAMS_DIR = PROJECT_ROOT / "infra" / "params"
GENERATED_SUFFIXES = (".template-config.json", ".tags.json", ".json")


@dataclass(frozen=True)
class StageConfig:
    """One samconfig.toml environment as CloudFormation sees it."""

    environment: str  # the samconfig table: default, dev, prod
    stack_name: str
    region: str
    parameters: dict[str, str]
    tags: dict[str, str]

    @property
    def stage(self) -> str:
        """The Stage parameter, which names the files."""
        return self.parameters["Stage"]


def pairs(words: Sequence[str], what: str) -> dict[str, str]:
    """["A=1", "B=x y"] as a dict."""
    result: dict[str, str] = {}
    for word in words:
        key, sep, value = word.partition("=")
        if not sep or not key:
            raise ValueError(f"{what}: expected Name=Value, got {word!r}")
        result[key] = value
    return result


def key_values(value: str | Sequence[str], what: str) -> dict[str, str]:
    """samconfig.toml's `A=1 B="x y"` (or a TOML list of such strings) as a dict, quotes read as a shell would."""
    words = shlex.split(value) if isinstance(value, str) else [word for item in value for word in shlex.split(item)]
    return pairs(words, what)


def stage_configs(samconfig: Mapping[str, Any]) -> list[StageConfig]:
    """Every environment of samconfig.toml that `sam deploy` can deploy, in file order."""
    configs = []
    for environment, table in samconfig.items():
        if not isinstance(table, dict) or "deploy" not in table:
            continue
        deploy = table["deploy"]["parameters"]
        settings = {**table.get("global", {}).get("parameters", {}), **deploy}
        parameters = key_values(deploy.get("parameter_overrides", ""), f"{environment}.deploy parameter_overrides")
        if "Stage" not in parameters:
            raise ValueError(f"samconfig.toml [{environment}.deploy.parameters] sets no Stage in parameter_overrides")
        configs.append(
            StageConfig(
                environment=environment,
                stack_name=settings["stack_name"],
                region=settings["region"],
                parameters=parameters,
                tags=key_values(deploy.get("tags", ""), f"{environment}.deploy tags"),
            )
        )
    stages = [config.stage for config in configs]
    if len(set(stages)) != len(stages):
        raise ValueError(f"two samconfig.toml environments deploy the same Stage: {stages}")
    return configs


def load_stage_configs(path: Path = SAMCONFIG_PATH) -> list[StageConfig]:
    """The stages of the project's samconfig.toml."""
    return stage_configs(tomllib.loads(path.read_text(encoding="utf-8")))


def parameter_list(parameters: Mapping[str, str]) -> list[dict[str, str]]:
    """The `--parameters file://` shape: [{"ParameterKey": ..., "ParameterValue": ...}]."""
    return [{"ParameterKey": key, "ParameterValue": value} for key, value in parameters.items()]


def tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    """The `--tags file://` shape: [{"Key": ..., "Value": ...}]."""
    return [{"Key": key, "Value": value} for key, value in tags.items()]


def template_configuration(config: StageConfig) -> dict[str, Any]:
    """CodePipeline's TemplateConfiguration: {"Parameters": {...}, "Tags": {...}}."""
    document: dict[str, Any] = {"Parameters": dict(config.parameters)}
    if config.tags:
        document["Tags"] = dict(config.tags)
    return document


def _json(document: Any) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def rendered(configs: Sequence[StageConfig], folder: Path = PARAMS_DIR) -> dict[Path, str]:
    """Every generated file and its text."""
    files = {}
    for config in configs:
        files[folder / f"{config.stage}.json"] = _json(parameter_list(config.parameters))
        files[folder / f"{config.stage}.tags.json"] = _json(tag_list(config.tags))
        files[folder / f"{config.stage}.template-config.json"] = _json(template_configuration(config))
    return files


def generated_files(folder: Path = PARAMS_DIR) -> list[Path]:
    """The files of the folder that this module owns (everything but its README)."""
    return sorted(path for path in folder.glob("*") if path.name.endswith(GENERATED_SUFFIXES))


def stale(expected: Mapping[Path, str], folder: Path = PARAMS_DIR) -> list[Path]:
    """Files that differ from what samconfig.toml gives, are missing, or belong to no stage."""
    differing = [path for path, text in expected.items() if not path.is_file() or path.read_text("utf-8") != text]
    return sorted(differing + orphans(expected, folder))


def orphans(expected: Mapping[Path, str], folder: Path = PARAMS_DIR) -> list[Path]:
    """Parameter files of stages samconfig.toml does not have (left for a person to remove)."""
    return [path for path in generated_files(folder) if path not in expected]


def write(expected: Mapping[Path, str], folder: Path = PARAMS_DIR) -> list[Path]:
    """Write the files that differ from what samconfig.toml gives; return them."""
    changed = [path for path in stale(expected, folder) if path in expected]
    folder.mkdir(parents=True, exist_ok=True)
    for path in changed:
        path.write_text(expected[path], encoding="utf-8")
    return changed


def template_parameters(path: Path = TEMPLATE_PATH) -> list[str]:
    """Names of template.yaml's parameters, in template order."""
    return list(yaml_parse(path.read_text(encoding="utf-8"))["Parameters"])


def merged(
    config: StageConfig, site: Mapping[str, str], known: Sequence[str], keep_previous: bool = False
) -> list[dict[str, Any]]:
    """The stage's parameters plus values of one account and region (proxy, network, ...).

    A site value may not replace a stage value (change samconfig.toml instead). With
    keep_previous, every other parameter keeps the stack's current value on an update, as
    `sam deploy` does; CloudFormation would otherwise reset an omitted parameter to its default.
    """
    unknown = sorted(set(site) - set(known))
    if unknown:
        raise ValueError(f"not parameters of template.yaml: {', '.join(unknown)}")
    clashing = sorted(set(site) & set(config.parameters))
    if clashing:
        raise ValueError(
            f"set by samconfig.toml's [{config.environment}] table, change them there: {', '.join(clashing)}"
        )
    entries: list[dict[str, Any]] = parameter_list({**config.parameters, **site})
    if keep_previous:
        given = {**config.parameters, **site}
        entries += [{"ParameterKey": name, "UsePreviousValue": True} for name in known if name not in given]
    return entries


def outputs_as_parameters(path: Path, known: Sequence[str]) -> dict[str, str]:
    """The outputs of a `describe-stacks` answer that are named like a template parameter."""
    outputs = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(outputs, list) or not all(isinstance(item, dict) and "OutputKey" in item for item in outputs):
        raise ValueError(f"{path}: expected the list that `describe-stacks --query 'Stacks[0].Outputs'` prints")
    return {item["OutputKey"]: str(item["OutputValue"]) for item in outputs if item["OutputKey"] in known}


def _config_for(stage: str, configs: Sequence[StageConfig]) -> StageConfig:
    for config in configs:
        if stage in (config.stage, config.environment):
            return config
    raise ValueError(f"no samconfig.toml environment deploys stage {stage!r}")


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: write (default), check, merge."""
    parser = argparse.ArgumentParser(
        prog="python -m tools.params", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("write", help="write infra/params/ from samconfig.toml (the default)")
    commands.add_parser("check", help="exit 1 when infra/params/ differs from samconfig.toml")
    merge = commands.add_parser("merge", help="print a stage's --parameters file with this account's values")
    merge.add_argument("stage", help="a Stage (sandbox, dev, prod) or a samconfig.toml environment")
    merge.add_argument("values", nargs="*", metavar="Name=Value", help="template parameters of this account/region")
    merge.add_argument(
        "--outputs",
        type=Path,
        help="a stack's outputs as `describe-stacks --query 'Stacks[0].Outputs'` prints them (the database "
        "stack's): those named like a template parameter are used; Name=Value arguments win",
    )
    merge.add_argument(
        "--keep-previous",
        action="store_true",
        help="for an update: every parameter not given keeps the stack's current value (UsePreviousValue)",
    )
    # Name=Value arguments may come after --outputs too, which argparse leaves over.
    args, extra = parser.parse_known_args(argv)
    if extra and args.command != "merge":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        configs = load_stage_configs()
        if args.command == "merge":
            known = template_parameters()
            site = outputs_as_parameters(args.outputs, known) if args.outputs else {}
            site.update(pairs([*args.values, *extra], "command line"))
            entries = merged(_config_for(args.stage, configs), site, known, args.keep_previous)
            sys.stdout.write(_json(entries))
            return 0
        expected = rendered(configs)
    except (ValueError, OSError) as error:
        parser.exit(2, f"python -m tools.params: {error}\n")
    if args.command == "check":
        outdated = stale(expected)
        for path in outdated:
            sys.stderr.write(f"out of date: {path.relative_to(PROJECT_ROOT)} (run `make params`)\n")
        return 1 if outdated else 0
    changed = write(expected)
    for path in changed:
        sys.stdout.write(f"wrote {path.relative_to(PROJECT_ROOT)}\n")
    for path in orphans(expected):
        sys.stderr.write(
            f"no samconfig.toml stage has {path.relative_to(PROJECT_ROOT)}: remove it if the stage is gone\n"
        )
    if not changed:
        sys.stdout.write("infra/params/ is up to date with samconfig.toml\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
