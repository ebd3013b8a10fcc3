"""Where a route's parameter comes from: `Annotated[UserId, Path()]`, `Header(alias=...)`,
`Query()`, `Body()`, as the functions declare them.

The same names and arguments as Powertools' markers (`aws_lambda_powertools.event_handler.openapi.
params`), which write the OpenAPI document: local/gateway/openapi.py hands each route to a
Powertools resolver with these translated into its own, argument for argument. The functions do
not import Powertools' markers themselves because importing any part of its event handler
imports all of it (resolvers for AppSync, Bedrock agents, VPC Lattice, ...), which a request here
never uses: about 65 ms of every import (docs/performance.md).
"""

from __future__ import annotations

from typing import Any


class Param:
    """A parameter's location, and its OpenAPI arguments (alias, description, ...) as given."""

    __slots__ = ("alias", "openapi")

    def __init__(self, *, alias: str | None = None, **openapi: Any) -> None:
        self.alias = alias
        self.openapi: dict[str, Any] = {"alias": alias, **openapi} if alias is not None else dict(openapi)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{key}={value!r}' for key, value in self.openapi.items())})"


class Path(Param):
    """A path parameter (`<name>` in the route's rule)."""


class Header(Param):
    """A request header; `alias` is its name as sent (headers arrive lower-cased)."""


class Query(Param):
    """A query string value."""


class Body(Param):
    """The JSON body, as a pydantic model."""
