"""Request validation in the contract's order, compiled once per route from the endpoint's own
signature.

API.md checks a request in this order: path parameters, (authorization,) request headers, body
size, body JSON, body fields and query values. Each route function declares its parameters with
the markers of params.py (`Annotated[UserId, Path()]`, `Header(alias=...)`, `Query()`,
`Body()`), which also write the OpenAPI document (through Powertools). Here the declarations become
one pydantic model per location, built when the route is registered; a request is then validated
by at most four calls into pydantic-core, with the rules' own messages.

Powertools' runtime validation is not used: it validated every value twice with per-field
adapters and re-validated the response, about half of a warm invocation's Python time
(docs/performance.md).
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import unquote

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from .authorization import authorize
from .errors import ValidationFailed
from .field_errors import field_errors
from .params import Body, Header, Param, Path, Query
from .request_body import read_json_object
from .settings import AuthSettings

Endpoint = Callable[..., Any]
_LOCATIONS: tuple[tuple[type[Param], str], ...] = (
    (Path, "path"),
    (Header, "header"),
    (Query, "query"),
    (Body, "body"),
)


class _Values(BaseModel):
    """The values of one location of a request (path, header or query), validated together."""

    model_config = ConfigDict(extra="ignore", populate_by_name=False)


@dataclass(frozen=True)
class _Location:
    """One location's model, and the parameter names it fills."""

    name: str
    model: type[BaseModel] | None
    fields: tuple[str, ...]

    def validate(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        """The location's values; ValidationFailed with every broken rule, named as sent."""
        if self.model is None:
            return {}
        try:
            validated = self.model.model_validate(raw)
        except ValidationError as exc:
            errors = [{**error, "loc": (self.name, *error["loc"])} for error in exc.errors()]
            raise ValidationFailed(field_errors(errors)) from None
        return {name: getattr(validated, name) for name in self.fields}


@dataclass(frozen=True)
class RouteValidation:
    """An endpoint's parameters by location, in the contract's order of checks."""

    path: _Location
    headers: _Location
    query: _Location
    body_parameter: str | None
    body_model: type[BaseModel] | None

    @classmethod
    def of(cls, endpoint: Endpoint) -> RouteValidation:
        """Compile the parameter declarations of `endpoint` (`Annotated[type, Path()]`, ...)."""
        hints = typing.get_type_hints(endpoint, include_extras=True)
        by_location: dict[str, dict[str, Any]] = {"path": {}, "header": {}, "query": {}}
        body_parameter, body_model = None, None
        for name, parameter in inspect.signature(endpoint).parameters.items():
            annotation = hints[name]
            marker = next(item for item in annotation.__metadata__ if isinstance(item, Param))
            rules = tuple(item for item in annotation.__metadata__ if item is not marker)
            declared = Annotated[(annotation.__origin__, *rules)] if rules else annotation.__origin__
            location = next(label for kind, label in _LOCATIONS if isinstance(marker, kind))
            if location == "body":
                body_parameter, body_model = name, typing.cast(type[BaseModel], declared)
                continue
            default = ... if parameter.default is inspect.Parameter.empty else parameter.default
            # Headers arrive lower-cased (payload 2.0); errors name them as declared.
            alias = (marker.alias or name).lower() if location == "header" else name
            by_location[location][name] = (declared, Field(default, alias=alias))
        path, headers, query = (
            _Location(label, create_model(f"{endpoint.__name__}_{label}", __base__=_Values, **fields), tuple(fields))
            if fields
            else _Location(label, None, ())
            for label, fields in by_location.items()
        )
        return cls(path, headers, query, body_parameter, body_model)

    def arguments(
        self, event: Mapping[str, Any], path_values: Mapping[str, str], auth: Callable[[], AuthSettings]
    ) -> dict[str, Any]:
        """The endpoint's arguments from one request (a payload 2.0 event), checked in the
        contract's order. `path_values` are as matched in the raw, percent-encoded path.
        """
        values = self.path.validate({name: unquote(value, errors="replace") for name, value in path_values.items()})
        if "user_id" in values:
            authorize(event, values["user_id"], auth())
        if self.headers.fields:
            # Payload 2.0 headers are lower-cased already: the raw dict, not a case-insensitive copy.
            values.update(self.headers.validate(event.get("headers") or {}))
        if self.body_model is not None and self.body_parameter is not None:
            body = read_json_object(event)
            try:
                values[self.body_parameter] = self.body_model.model_validate(body)
            except ValidationError as exc:
                raise ValidationFailed(field_errors(exc.errors())) from None
        if self.query.fields:
            values.update(self.query.validate(event.get("queryStringParameters") or {}))
        return values
