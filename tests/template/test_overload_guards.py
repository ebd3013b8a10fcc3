"""Overload guards of template.yaml: the functions' reserved concurrency fits the database
connection budget, and the API's throttling keeps bursts under that concurrency.

Each concurrent execution holds one database connection (one per execution environment, no pool
in a function; the proxy multiplexes, it does not pin). So the sum of every function's
ReservedConcurrentExecutions is the most connections the stack can ask the proxy for at once, and
it must fit DatabaseConnectionBudget, what the proxy may open to the database.

The template refuses a deploy that does not fit: CloudFormation Rules can only compare strings,
so ReservedConcurrency and DatabaseConnectionBudget take listed values and the rule
`ReservedConcurrencyFitsConnectionBudget` lists, for each ReservedConcurrency, the budgets that
hold it. These tests evaluate that rule as CloudFormation would, for every pair of listed values,
against the totals computed from the template's own functions; when a function is added or its
concurrency changes, the failure prints the rule to paste.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from typing import Any

import pytest

from local.template import PROJECT_ROOT, Resolver, load_functions, load_template

RULE = "ReservedConcurrencyFitsConnectionBudget"
# What a request of an API function is assumed to take at the 99th percentile under load (warm
# path ~10-30 ms with the proxy; cold starts and slow statements make the tail). docs/operations.md
# sizes the throttling rate with it.
DESIGN_DURATION_S = 0.1

TEMPLATE = load_template()
PARAMETERS: dict[str, Any] = TEMPLATE["Parameters"]
SAMCONFIG: dict[str, Any] = tomllib.loads((PROJECT_ROOT / "samconfig.toml").read_text())


def defaults() -> dict[str, str]:
    """Every parameter's default, as the string CloudFormation compares."""
    return {name: str(spec.get("Default", "")) for name, spec in PARAMETERS.items()}


def stage_values(environment: str) -> dict[str, str]:
    """A samconfig environment's parameter values: the defaults under its parameter_overrides."""
    overrides = SAMCONFIG[environment]["deploy"]["parameters"]["parameter_overrides"]
    return {**defaults(), **dict(pair.split("=", 1) for pair in overrides.split())}


def reserved_total(values: Mapping[str, str]) -> int | None:
    """The sum of every function's reserved concurrency, or None when one has none (unbounded)."""
    functions = load_functions(parameters=dict(values))
    reserved = [function.reserved_concurrency for function in functions.values()]
    if any(value is None for value in reserved):
        return None
    return sum(value for value in reserved if value is not None)


def allowed(name: str) -> list[str]:
    """A parameter's AllowedValues as strings."""
    return [str(value) for value in PARAMETERS[name]["AllowedValues"]]


def rule_accepts(values: Mapping[str, str]) -> bool:
    """Whether the budget rule lets a deploy with these parameter values through."""
    rule = TEMPLATE["Rules"][RULE]
    resolver = Resolver(TEMPLATE, values)
    if not resolver.resolve(rule.get("RuleCondition", True)):
        return True
    return all(resolver.resolve(assertion["Assert"]) for assertion in rule["Assertions"])


def expected_rule_yaml() -> str:
    """The rule as it should read in template.yaml for the template's current functions."""
    lines = [f"  {RULE}:", "    Assertions:"]
    for concurrency in allowed("ReservedConcurrency"):
        total = reserved_total({**defaults(), "ReservedConcurrency": concurrency})
        if total is None:
            continue  # -1: nothing reserved, nothing to check
        per_function = reserved_total({**defaults(), "ReservedConcurrency": str(int(concurrency) + 1)})
        assert per_function is not None
        sharing, fixed = per_function - total, total - (per_function - total) * int(concurrency)
        budgets = ", ".join(f'"{budget}"' for budget in allowed("DatabaseConnectionBudget") if int(budget) >= total)
        lines.append("      - Assert: !Or")
        lines.append(f'          - !Not [!Equals [!Ref ReservedConcurrency, "{concurrency}"]]')
        lines.append(f"          - !Contains [[{budgets}], !Ref DatabaseConnectionBudget]")
        lines.append(
            f"        AssertDescription: ReservedConcurrency {concurrency} reserves {total} executions"
            f" ({sharing} functions x {concurrency} + {fixed}), one database connection each;"
            f" DatabaseConnectionBudget must be at least {total}."
        )
    return "\n".join(lines)


def test_rule_accepts_exactly_the_combinations_that_fit() -> None:
    wrong = []
    for concurrency in allowed("ReservedConcurrency"):
        total = reserved_total({**defaults(), "ReservedConcurrency": concurrency})
        for budget in allowed("DatabaseConnectionBudget"):
            values = {**defaults(), "ReservedConcurrency": concurrency, "DatabaseConnectionBudget": budget}
            fits = total is None or total <= int(budget)
            if rule_accepts(values) != fits:
                wrong.append((concurrency, budget, total))
    assert not wrong, (
        f"{RULE} disagrees with the functions' reserved concurrency for (ReservedConcurrency, budget, total)"
        f" {wrong}; template.yaml's rule should read:\n{expected_rule_yaml()}"
    )


def test_every_reserved_concurrency_has_a_budget_that_holds_it() -> None:
    largest_budget = max(int(budget) for budget in allowed("DatabaseConnectionBudget"))
    for concurrency in allowed("ReservedConcurrency"):
        total = reserved_total({**defaults(), "ReservedConcurrency": concurrency})
        assert total is None or total <= largest_budget, concurrency


def test_the_rule_refuses_a_budget_one_step_too_small() -> None:
    # The concrete case an operator meets: prod's concurrency with the default budget.
    values = {**defaults(), "ReservedConcurrency": "50", "DatabaseConnectionBudget": "150"}
    total = reserved_total(values)
    assert total is not None
    assert total > 150
    assert not rule_accepts(values)
    assert rule_accepts({**values, "DatabaseConnectionBudget": "400"})


@pytest.mark.parametrize("environment", ["defaults", "default", "dev", "prod"])
def test_reserved_concurrency_fits_the_budget(environment: str) -> None:
    values = defaults() if environment == "defaults" else stage_values(environment)
    total = reserved_total(values)
    assert total is not None, "every function reserves concurrency, so the budget can be checked"
    assert total <= int(values["DatabaseConnectionBudget"])
    assert rule_accepts(values)


@pytest.mark.parametrize("environment", ["defaults", "default", "dev", "prod"])
def test_throttling_keeps_requests_under_each_functions_concurrency(environment: str) -> None:
    values = defaults() if environment == "defaults" else stage_values(environment)
    burst, rate = int(values["ThrottlingBurstLimit"]), float(values["ThrottlingRateLimit"])
    for function in load_functions(parameters=values).values():
        if not function.routes:
            continue
        assert function.reserved_concurrency is not None
        routes = len(function.routes)  # each route has its own bucket; PUT and PATCH share a function
        assert routes * burst <= function.reserved_concurrency, function.logical_id
        assert routes * rate * DESIGN_DURATION_S <= function.reserved_concurrency, function.logical_id


def test_stages_set_every_overload_guard_explicitly() -> None:
    guards = {"ThrottlingRateLimit", "ThrottlingBurstLimit", "ReservedConcurrency", "DatabaseConnectionBudget"}
    for environment in ("dev", "prod"):
        overrides = SAMCONFIG[environment]["deploy"]["parameters"]["parameter_overrides"]
        assert guards <= {pair.split("=", 1)[0] for pair in overrides.split()}, environment
        values = stage_values(environment)
        assert values["ReservedConcurrency"] in allowed("ReservedConcurrency")
        assert values["DatabaseConnectionBudget"] in allowed("DatabaseConnectionBudget")


def test_the_http_api_throttles_every_route_with_the_parameters() -> None:
    api = TEMPLATE["Resources"]["TasksApi"]["Properties"]
    assert api["DefaultRouteSettings"] == {
        "ThrottlingBurstLimit": {"Ref": "ThrottlingBurstLimit"},
        "ThrottlingRateLimit": {"Ref": "ThrottlingRateLimit"},
    }
    assert "RouteSettings" not in api  # no route escapes the defaults


def test_the_rules_words_match_the_functions() -> None:
    # Its AssertDescriptions state the totals an operator reads when a deploy is refused.
    assert expected_rule_yaml() in (PROJECT_ROOT / "template.yaml").read_text(encoding="utf-8")
