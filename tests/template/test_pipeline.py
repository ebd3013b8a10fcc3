"""The GitHub Actions pipeline (.github/workflows) and the samconfig.toml table it deploys first.

Offline checks of what GitHub and AWS would enforce at run time: every action pinned to a commit,
AWS credentials from the OIDC token only and only in the jobs that deploy, production behind its
environment, deploys of one stage never overlapping, and the stage names agreeing across the
workflows, samconfig.toml and infra/github-oidc.yaml. `make validate` runs actionlint and zizmor on
the same files; the last tests show that both fail on a workflow that breaks their rules.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]  # PyYAML ships no type hints; only safe_load is used

from local.template import PROJECT_ROOT, load_template
from tests.template.test_overload_guards import reserved_total, rule_accepts, stage_values

WORKFLOWS = PROJECT_ROOT / ".github" / "workflows"
SAMCONFIG: dict[str, Any] = tomllib.loads((PROJECT_ROOT / "samconfig.toml").read_text())
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
VERSION_COMMENT = re.compile(r"uses: (\S+) # v\d+(\.\d+)*\s*$")
CONFIGURE_CREDENTIALS = "aws-actions/configure-aws-credentials@"
# GitHub environment -> the samconfig.toml table it deploys.
STAGES = {"staging": "staging", "production": "prod"}
BIN = Path(sys.executable).parent


def workflow(name: str) -> dict[str, Any]:
    """A workflow as GitHub reads it (PyYAML reads the key `on` as True: put it back)."""
    data: dict[Any, Any] = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    if True in data:
        data["on"] = data.pop(True)
    return data


def workflow_names() -> list[str]:
    names = sorted(path.name for path in WORKFLOWS.glob("*.yml"))
    assert names == ["ci.yml", "deploy-stage.yml", "deploy.yml"]
    return names


def jobs() -> list[tuple[str, str, dict[str, Any]]]:
    """(workflow, job id, job) for every job of every workflow."""
    return [(name, job_id, job) for name in workflow_names() for job_id, job in workflow(name)["jobs"].items()]


def uses(job: dict[str, Any]) -> list[str]:
    """What a job runs: a reusable workflow, or its steps' actions."""
    if "uses" in job:
        return [job["uses"]]
    return [step["uses"] for step in job.get("steps", []) if "uses" in step]


def local_workflow(reference: str) -> str | None:
    """The file name of a reusable workflow of this repository, else None."""
    match = re.fullmatch(r"(?:\$|\.)/\.github/workflows/([\w.-]+\.yml)", reference)
    return match.group(1) if match else None


def deploys(job: dict[str, Any]) -> bool:
    """A job that gets AWS credentials itself or through the reusable workflow it calls."""
    for reference in uses(job):
        called = local_workflow(reference)
        if called and any(deploys(inner) for inner in workflow(called)["jobs"].values()):
            return True
        if reference.startswith(CONFIGURE_CREDENTIALS):
            return True
    return False


def test_every_workflow_parses_and_grants_nothing_by_default() -> None:
    for name in workflow_names():
        data = workflow(name)
        assert data["on"], name
        assert data["permissions"] == {}, name  # each job says what it needs
        for job_id, job in data["jobs"].items():
            assert "permissions" in job, (name, job_id)


def test_every_action_is_pinned_to_a_commit_with_its_version_in_a_comment() -> None:
    references = [reference for _, _, job in jobs() for reference in uses(job)]
    actions = [reference for reference in references if not local_workflow(reference)]
    assert len(actions) >= 6
    for reference in actions:
        assert PINNED.fullmatch(reference), reference
    for name in workflow_names():
        for line in (WORKFLOWS / name).read_text(encoding="utf-8").splitlines():
            if "uses: " in line and "@" in line:
                assert VERSION_COMMENT.search(line), line  # which release the SHA is, for updates
    for reference in references:
        called = local_workflow(reference)
        if called:
            assert (WORKFLOWS / called).is_file(), reference


def test_only_the_deploy_jobs_get_an_oidc_token() -> None:
    deploying = set()
    for name, job_id, job in jobs():
        permissions = job["permissions"]
        if deploys(job):
            deploying.add((name, job_id))
            assert permissions.get("id-token") == "write", (name, job_id)
        else:
            assert "id-token" not in permissions, (name, job_id)
        assert set(permissions.values()) <= {"read", "write"}
        assert {key for key, value in permissions.items() if value == "write"} <= {"id-token"}, (name, job_id)
    assert deploying == {
        ("deploy-stage.yml", "deploy"),
        ("deploy.yml", "staging"),
        ("deploy.yml", "production"),
    }


def test_credentials_come_from_a_role_never_from_keys() -> None:
    for name in workflow_names():
        text = (WORKFLOWS / name).read_text(encoding="utf-8")
        assert "secrets." not in text, name
        for key in ("aws-access-key-id", "aws-secret-access-key", "aws-session-token", "AWS_ACCESS_KEY_ID"):
            assert key not in text, (name, key)
    [step] = [
        step
        for step in workflow("deploy-stage.yml")["jobs"]["deploy"]["steps"]
        if step.get("uses", "").startswith(CONFIGURE_CREDENTIALS)
    ]
    assert step["with"]["role-to-assume"] == "${{ vars.AWS_DEPLOY_ROLE_ARN }}"
    assert set(step["with"]) <= {"role-to-assume", "aws-region", "role-session-name", "role-duration-seconds"}


def test_production_is_deployed_in_its_environment_after_staging() -> None:
    pipeline = workflow("deploy.yml")
    assert pipeline["on"] == {"push": {"branches": ["main"]}}
    jobs_ = pipeline["jobs"]
    assert local_workflow(jobs_["test"]["uses"]) == "ci.yml"
    assert set(jobs_["staging"]["needs"]) == {"test", "build"}
    assert jobs_["production"]["needs"] == "staging"
    for job_id, environment in (("staging", "staging"), ("production", "production")):
        assert local_workflow(jobs_[job_id]["uses"]) == "deploy-stage.yml"
        assert jobs_[job_id]["with"] == {"environment": environment, "config-env": STAGES[environment]}
    # The called job runs in the environment it is given: its protection rules (production's
    # required reviewers) hold the job, and the role trusts only that environment's tokens.
    deploy = workflow("deploy-stage.yml")["jobs"]["deploy"]
    assert deploy["environment"]["name"] == "${{ inputs.environment }}"


def test_two_deploys_of_one_stage_never_overlap_and_the_smoke_test_checks_this_runs_deploy() -> None:
    deploy = workflow("deploy-stage.yml")["jobs"]["deploy"]
    assert deploy["concurrency"] == {"group": "deploy-${{ inputs.environment }}", "cancel-in-progress": False}
    names = [step.get("name", step.get("uses", "")) for step in deploy["steps"]]
    order = [names.index(name) for name in ("sam deploy", "Read the stack's ApiUrl output", "Smoke test (make smoke)")]
    assert order == sorted(order)
    steps = {step.get("name"): step for step in deploy["steps"]}
    assert "--role-arn" in steps["sam deploy"]["run"]
    assert "--template-file sam-build/template.yaml" in steps["sam deploy"]["run"]
    assert "OutputKey=='ApiUrl'" in steps["Read the stack's ApiUrl output"]["run"]
    assert steps["Smoke test (make smoke)"]["run"] == 'python3 -m ops.smoke "$BASE_URL"'
    # ...which is what `make smoke` runs.
    assert '-m ops.smoke "$(BASE_URL)"' in (PROJECT_ROOT / "Makefile").read_text()
    assert (PROJECT_ROOT / "template.yaml").read_text().count("  ApiUrl:") == 1


def test_pull_requests_run_make_test_with_nothing_to_deploy_with() -> None:
    ci = workflow("ci.yml")
    assert set(ci["on"]) == {"pull_request", "workflow_call"}  # pull_request, never pull_request_target
    [job] = ci["jobs"].values()
    assert job["permissions"] == {"contents": "read"}
    assert job["steps"][-1]["run"] == "make test"


def test_sam_cli_is_the_version_the_project_pins() -> None:
    pinned = re.search(r"^aws-sam-cli==(\S+)$", (PROJECT_ROOT / "requirements-dev.txt").read_text(), re.MULTILINE)
    assert pinned
    versions = {
        str(step["with"]["version"])
        for _, _, job in jobs()
        for step in job.get("steps", [])
        if step.get("uses", "").startswith("aws-actions/setup-sam@")
    }
    assert versions == {pinned.group(1)}


def test_the_stage_names_agree_across_workflows_samconfig_and_the_oidc_template() -> None:
    oidc = load_template(PROJECT_ROOT / "infra" / "github-oidc.yaml")["Parameters"]
    staging = SAMCONFIG["staging"]
    # The OIDC template's defaults are the staging stage the pipeline deploys first.
    assert oidc["GitHubEnvironment"]["Default"] == "staging"
    assert oidc["ApiStackName"]["Default"] == staging["global"]["parameters"]["stack_name"]
    assert oidc["Stage"]["Default"] == stage_values("staging")["Stage"]
    for environment, table in STAGES.items():
        assert SAMCONFIG[table]["deploy"]["parameters"]["capabilities"] == "CAPABILITY_IAM", environment
        assert re.fullmatch(
            oidc["ApiStackName"]["AllowedPattern"], SAMCONFIG[table]["global"]["parameters"]["stack_name"]
        )
        assert re.fullmatch(oidc["GitHubEnvironment"]["AllowedPattern"], environment)


def test_the_staging_table() -> None:
    deploy = SAMCONFIG["staging"]["deploy"]["parameters"]
    overridden = {pair.split("=", 1)[0] for pair in deploy["parameter_overrides"].split()}
    assert overridden <= set(load_template()["Parameters"])
    values = stage_values("staging")
    assert values["Stage"] == "staging"
    # Production's configuration, proven on staging first.
    prod = stage_values("prod")
    guards = ("ThrottlingRateLimit", "ThrottlingBurstLimit", "ReservedConcurrency", "DatabaseConnectionBudget")
    assert {name: values[name] for name in guards} == {name: prod[name] for name in guards}
    total = reserved_total(values)
    assert total is not None
    assert total <= int(values["DatabaseConnectionBudget"])
    assert rule_accepts(values)
    stacks = [table["global"]["parameters"]["stack_name"] for table in SAMCONFIG.values() if isinstance(table, dict)]
    assert len(stacks) == len(set(stacks)) == 4


@pytest.mark.parametrize(
    ("tool", "change", "finding"),
    [
        ("zizmor", ("@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1", "@v7"), "unpinned-uses"),
        ("zizmor", ("          persist-credentials: false\n", "          fetch-depth: 1\n"), "artipacked"),
        ("actionlint", ("needs: staging", "needs: stagin"), "stagin"),
    ],
    ids=["unpinned", "persisted-credentials", "unknown-job"],
)
def test_the_workflow_linters_of_make_validate_fail_on_a_broken_workflow(
    tmp_path: Path, tool: str, change: tuple[str, str], finding: str
) -> None:
    copy = tmp_path / ".github" / "workflows"
    shutil.copytree(WORKFLOWS, copy)
    changed = False
    for path in copy.glob("*.yml"):
        text = path.read_text(encoding="utf-8")
        if change[0] in text:
            path.write_text(text.replace(change[0], change[1], 1), encoding="utf-8")
            changed = True
            break
    assert changed
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True, timeout=60)  # actionlint's project root
    for root in (PROJECT_ROOT, tmp_path):
        command = {
            "zizmor": [str(BIN / "zizmor"), "--offline", "--quiet", str(root / ".github" / "workflows")],
            "actionlint": [str(BIN / "actionlint")],
        }[tool]
        result = subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=120, check=False)
        if root == PROJECT_ROOT:
            assert result.returncode == 0, result.stdout + result.stderr  # the committed workflows pass...
        else:
            assert result.returncode != 0  # ...and the changed copy does not
            assert finding in result.stdout + result.stderr
