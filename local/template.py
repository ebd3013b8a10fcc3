"""template.yaml as the local runtime and the tests see it: functions, their routes and settings.

The template is read with the SAM translator's YAML loader (CloudFormation tags such as !Ref and
!Sub become their long forms), Globals are merged into each function as SAM does, and the
intrinsics that matter locally are resolved: Ref of a parameter or pseudo parameter, Sub, If on
a known condition. Anything else resolves to None (a local run has no AWS resources to name).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from samtranslator.yaml_helper import yaml_parse

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = PROJECT_ROOT / "template.yaml"

# Locally the database is reached by URL (DATABASE_URL), not through RDS Proxy, by the API
# functions and the migrations function alike; with the JWT authorizer on, tokens come from
# `python -m local token`, for this issuer and audience unless the parameters say otherwise.
# SnapStart is on: workers start as forks of each function's snapshot (docs/local-runtime.md),
# which makes a burst's scale-out fast and runs the SnapStart hooks on every `make run`;
# `--parameter-overrides SnapStart=None` starts each worker from scratch instead.
LOCAL_PARAMETERS = {
    "DatabaseAuthMode": "url",
    "MigrationAuthMode": "url",
    "JwtIssuer": "https://tasks-api.local/",
    "JwtAudience": "tasks-api-local",
    "SnapStart": "PublishedVersions",
}

PSEUDO_PARAMETERS = {
    "AWS::Region": "us-east-1",
    "AWS::AccountId": "123456789012",
    "AWS::StackName": "tasks-api-local",
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::NoValue": None,
}


@dataclass(frozen=True)
class Route:
    """One HttpApi event: a method and a path template, served by a function."""

    method: str
    path: str
    function: str
    event: str
    # The HttpApi resource serving the route (SAM's implicit one when the event names none).
    api: str = "ServerlessHttpApi"
    # The integration timeout (the event's TimeoutInMillis; HTTP API's maximum, 30 s, by default).
    timeout_ms: int = 30000
    # The event's Auth.Authorizer ("NONE" for none); None means the API's DefaultAuthorizer.
    authorizer: str | None = None

    @property
    def route_key(self) -> str:
        """The HTTP API routeKey, e.g. `GET /users/{user_id}/tasks`."""
        return f"{self.method} {self.path}"


@dataclass(frozen=True)
class Function:
    """A function of the template with Globals applied."""

    logical_id: str
    code_uri: Path
    handler: str
    runtime: str
    timeout_s: int
    memory_mb: int
    environment: dict[str, str]
    reserved_concurrency: int | None
    routes: list[Route] = field(default_factory=list)
    # What Lambda mounts at /opt/python: the ContentUri of each of the function's layers.
    layers: list[Path] = field(default_factory=list)
    # SnapStart (ApplyOn: PublishedVersions): environments start from a snapshot of one init.
    snap_start: bool = False

    @property
    def module_path(self) -> Path:
        """The file the handler lives in (`app.lambda_handler` -> CodeUri/app.py)."""
        module = self.handler.rsplit(".", 1)[0]
        return self.code_uri / (module.replace(".", "/") + ".py")

    @property
    def handler_name(self) -> str:
        """The attribute of the module Lambda calls."""
        return self.handler.rsplit(".", 1)[1]


@dataclass(frozen=True)
class Cors:
    """An HttpApi's CorsConfiguration, as API Gateway applies it."""

    allow_origins: tuple[str, ...] = ()
    allow_methods: tuple[str, ...] = ()
    allow_headers: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    max_age: int | None = None
    allow_credentials: bool = False

    @classmethod
    def from_template(cls, value: Any) -> Cors | None:
        """The configuration SAM makes of `CorsConfiguration` (`true` allows everything)."""
        if value is None or value is False:
            return None
        if value is True:
            return cls(allow_origins=("*",), allow_methods=("*",), allow_headers=("*",))

        def names(key: str) -> tuple[str, ...]:
            return tuple(str(item) for item in value.get(key) or ())

        max_age = value.get("MaxAge")
        return cls(
            allow_origins=names("AllowOrigins"),
            allow_methods=tuple(method.upper() for method in names("AllowMethods")),
            allow_headers=tuple(header.lower() for header in names("AllowHeaders")),
            expose_headers=tuple(header.lower() for header in names("ExposeHeaders")),
            max_age=None if max_age is None else int(max_age),
            allow_credentials=bool(value.get("AllowCredentials", False)),
        )


class Resolver:
    """Resolves the intrinsics a local run can know."""

    def __init__(self, template: Mapping[str, Any], overrides: Mapping[str, str] | None = None) -> None:
        self.values: dict[str, Any] = dict(PSEUDO_PARAMETERS)
        # Ref of a resource is its physical id; locally, a resource is named by its logical id.
        for name in template.get("Resources") or {}:
            self.values[name] = name
        for name, spec in (template.get("Parameters") or {}).items():
            if "Default" in spec:
                self.values[name] = spec["Default"]
        self.values.update(overrides or {})
        self.conditions: dict[str, bool] = {}
        for name, condition in (template.get("Conditions") or {}).items():
            self.conditions[name] = bool(self.resolve(condition))

    def resolve(self, value: Any) -> Any:
        """The value with every intrinsic it holds resolved."""
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((name, argument),) = value.items()
            intrinsic = self._intrinsics().get(name)
            if intrinsic is not None:
                return intrinsic(argument)
            if name.startswith("Fn::"):
                return None  # GetAtt, ImportValue, ...: nothing to name in a local run
        return {key: self.resolve(item) for key, item in value.items()}

    def _intrinsics(self) -> dict[str, Callable[[Any], Any]]:
        return {
            "Ref": self.values.get,
            "Condition": lambda name: self.conditions.get(name, False),
            "Fn::Sub": self._sub,
            "Fn::If": lambda args: self.resolve(args[1] if self.conditions.get(args[0]) else args[2]),
            "Fn::Equals": lambda args: str(self.resolve(args[0])) == str(self.resolve(args[1])),
            "Fn::Not": lambda args: not self.resolve(args[0]),
            "Fn::And": lambda args: all(self.resolve(item) for item in args),
            "Fn::Or": lambda args: any(self.resolve(item) for item in args),
            "Fn::Join": lambda args: str(args[0]).join(str(item) for item in self._list(args[1])),
            "Fn::Select": lambda args: self._list(args[1])[int(self.resolve(args[0]))],
            "Fn::Split": lambda args: str(self.resolve(args[1])).split(str(args[0])),
            # A Rules function (template tests evaluate the Rules with this resolver).
            "Fn::Contains": lambda args: str(self.resolve(args[1])) in [str(item) for item in self._list(args[0])],
        }

    def _list(self, value: Any) -> list[Any]:
        """A list argument; a CommaDelimitedList parameter's value is a comma-separated string."""
        resolved = self.resolve(value)
        if isinstance(resolved, str):
            return resolved.split(",") if resolved else []
        return list(resolved or [])

    def _sub(self, argument: Any) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else argument
        local = {name: self.resolve(item) for name, item in variables.items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            value = local[name] if name in local else self.values.get(name)
            return "" if value is None else str(value)

        return re.sub(r"\$\{([^}]+)\}", replace, text)


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """The template as plain data, CloudFormation tags in their long form."""
    return dict(yaml_parse(path.read_text(encoding="utf-8")))


def _merged(globals_: Mapping[str, Any], properties: Mapping[str, Any]) -> dict[str, Any]:
    """Globals under a function's properties, as SAM merges them (maps merge, the rest override)."""
    merged = dict(globals_)
    for key, value in properties.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merged(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_functions(
    path: Path = TEMPLATE_PATH,
    parameters: Mapping[str, str] | None = None,
) -> dict[str, Function]:
    """Every AWS::Serverless::Function of the template, by logical id."""
    template = load_template(path)
    resolver = Resolver(template, {**LOCAL_PARAMETERS, **(parameters or {})})
    function_globals = (template.get("Globals") or {}).get("Function") or {}
    functions: dict[str, Function] = {}
    for logical_id, resource in (template.get("Resources") or {}).items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        properties = resolver.resolve(_merged(function_globals, resource.get("Properties") or {}))
        variables = ((properties.get("Environment") or {}).get("Variables")) or {}
        routes = [
            _route(logical_id, name, event.get("Properties") or {})
            for name, event in (properties.get("Events") or {}).items()
            if event.get("Type") == "HttpApi"
        ]
        resources = template.get("Resources") or {}
        layers = [
            (path.parent / str(resources[layer]["Properties"]["ContentUri"])).resolve()
            for layer in properties.get("Layers") or []
            if isinstance(layer, str) and resources.get(layer, {}).get("Type") == "AWS::Serverless::LayerVersion"
        ]
        functions[logical_id] = Function(
            logical_id=logical_id,
            code_uri=(path.parent / str(properties["CodeUri"])).resolve(),
            handler=str(properties["Handler"]),
            runtime=str(properties.get("Runtime", "")),
            timeout_s=int(properties.get("Timeout", 3)),
            memory_mb=int(properties.get("MemorySize", 128)),
            environment={name: "" if value is None else str(value) for name, value in variables.items()},
            reserved_concurrency=(
                int(properties["ReservedConcurrentExecutions"])
                if properties.get("ReservedConcurrentExecutions") is not None
                else None
            ),
            routes=routes,
            layers=layers,
            snap_start=((properties.get("SnapStart") or {}).get("ApplyOn")) == "PublishedVersions",
        )
    return functions


def _route(function: str, event: str, properties: Mapping[str, Any]) -> Route:
    # An HttpApi event without Method or Path is the catch-all `$default` route; this runtime
    # mounts it as ANY /{proxy+}.
    return Route(
        method=str(properties.get("Method", "ANY")).upper().replace("X-AMAZON-APIGATEWAY-ANY-METHOD", "ANY"),
        path=str(properties.get("Path", "/{proxy+}")),
        function=function,
        event=event,
        api=str(properties.get("ApiId") or "ServerlessHttpApi"),
        timeout_ms=int(properties.get("TimeoutInMillis") or 30000),
        authorizer=(properties.get("Auth") or {}).get("Authorizer"),
    )


def load_cors(path: Path = TEMPLATE_PATH, parameters: Mapping[str, str] | None = None) -> dict[str, Cors]:
    """The CORS configuration of each HttpApi that has one (Globals apply), by logical id."""
    template = load_template(path)
    resolver = Resolver(template, {**LOCAL_PARAMETERS, **(parameters or {})})
    found: dict[str, Cors] = {}
    for name, properties in merged_globals(template, "HttpApi").items():
        cors = Cors.from_template(resolver.resolve(properties).get("CorsConfiguration"))
        if cors is not None:
            found[name] = cors
    return found


def merged_globals(template: Mapping[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    """Properties of every AWS::Serverless::<kind> with Globals applied (unresolved), by logical id.

    For HttpApi this includes SAM's implicit `ServerlessHttpApi`, the API of events that name none.
    """
    kind_globals = (template.get("Globals") or {}).get(kind) or {}
    found = {
        name: _merged(kind_globals, resource.get("Properties") or {})
        for name, resource in (template.get("Resources") or {}).items()
        if resource.get("Type") == f"AWS::Serverless::{kind}"
    }
    if kind == "HttpApi":
        found.setdefault("ServerlessHttpApi", dict(kind_globals))
    return found


def all_routes(functions: Mapping[str, Function]) -> list[Route]:
    """Every route of every function."""
    return [route for function in functions.values() for route in function.routes]
