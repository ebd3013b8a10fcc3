"""Command line of the local runtime: `python -m local serve`, `invoke`, `token` and `db`."""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import os
import sys
from pathlib import Path
from typing import Any

from local.devdb.database import DEFAULT_DATA_DIR, CannotListen, ServerInUse, dev_database
from local.devdb.tcp_access import (
    DEFAULT_PORT,
    DOCKER_BRIDGE,
    DOCKER_DESKTOP_HOST,
    DbOptions,
    serve_database,
    stop_signals,
)
from local.emulator.invoke import invoke
from local.gateway.http_server import Timeouts
from local.gateway.jwt_auth import load_api_auth, mint_token
from local.output import emit, use_stream
from local.server import ServeOptions, load, serve
from local.template import TEMPLATE_PATH


def _parameters(pairs: list[str]) -> dict[str, str]:
    parameters = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise argparse.ArgumentTypeError(f"expected Name=Value, got {pair!r}")
        parameters[name] = value
    return parameters


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m local", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--template", "-t", type=Path, default=TEMPLATE_PATH, help="SAM template (template.yaml)")
    common.add_argument(
        "--env-vars", "-n", type=Path, help="JSON overrides of environment variables (sam local format)"
    )
    common.add_argument(
        "--parameter-overrides", nargs="*", default=[], metavar="Name=Value", help="template parameter values"
    )
    common.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="embedded PostgreSQL's data folder")

    serve_cmd = commands.add_parser("serve", parents=[common], help="serve the API over HTTP")
    serve_cmd.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"), help="address (HOST)")
    serve_cmd.add_argument(
        "--port", type=int, default=int(os.environ.get("PORT", "3000")), help="port, 0 for any (PORT)"
    )
    serve_cmd.add_argument(
        "--max-concurrency",
        type=int,
        default=4,
        help="workers per function without ReservedConcurrentExecutions (default 4)",
    )
    serve_cmd.add_argument("--no-reload", action="store_true", help="do not reload code on change")
    serve_cmd.add_argument(
        "--jwks", type=Path, help="JWKS file the JWT authorizer verifies tokens with (default: the development key)"
    )
    serve_cmd.add_argument(
        "--idle-timeout",
        type=float,
        metavar="SECONDS",
        default=Timeouts.idle_s,
        help=f"seconds a connection may stay open without a request in progress (default {Timeouts.idle_s:g})",
    )
    serve_cmd.add_argument(
        "--request-timeout",
        type=float,
        metavar="SECONDS",
        default=Timeouts.request_s,
        help=f"seconds from a request's first byte until all of it has arrived (default {Timeouts.request_s:g})",
    )

    invoke_cmd = commands.add_parser("invoke", parents=[common], help="invoke one function once")
    invoke_cmd.add_argument("function", help="logical id of the function, e.g. CreateTaskFunction")
    invoke_cmd.add_argument("--event", "-e", help="event JSON file, or - for stdin (default: {})")

    token_cmd = commands.add_parser(
        "token", parents=[common], help="mint a token the JWT authorizer accepts, signed with the development key"
    )
    token_cmd.add_argument("user_id", help="the user the token is for")
    token_cmd.add_argument("--claim", default="sub", help="the claim holding the user id (default sub)")
    token_cmd.add_argument("--expires-in", type=int, default=3600, help="seconds until it expires (default 3600)")

    db_cmd = commands.add_parser(
        "db", help="serve the embedded PostgreSQL on TCP too, for sam local's Docker containers (make db)"
    )
    db_cmd.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="embedded PostgreSQL's data folder")
    db_cmd.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"TCP port (default {DEFAULT_PORT})")
    db_cmd.add_argument(
        "--listen",
        type=_addresses,
        metavar="ADDRESS[,ADDRESS...]",
        help=f"addresses to listen on, '*' for all (default: 127.0.0.1 and {DOCKER_BRIDGE}'s address if any)",
    )
    db_cmd.add_argument(
        "--container-host",
        help=f"how containers reach this machine (default: {DOCKER_BRIDGE}'s address, else {DOCKER_DESKTOP_HOST})",
    )
    db_cmd.add_argument(
        "--env-file", type=Path, help="the --env-vars file to write (default: sam-env.json beside the data folder)"
    )
    return parser


def _addresses(text: str) -> tuple[str, ...]:
    """IP addresses, `localhost` or `*`: nothing else reaches PostgreSQL's command line."""
    addresses = tuple(part.strip() for part in text.split(",") if part.strip())
    for address in addresses:
        if address not in ("*", "localhost"):
            try:
                ipaddress.ip_address(address)
            except ValueError:
                raise argparse.ArgumentTypeError(f"not an IP address, localhost or *: {address!r}") from None
    if not addresses:
        raise argparse.ArgumentTypeError("expected at least one address")
    return addresses


def _db(args: argparse.Namespace) -> int:
    options = DbOptions(
        data_dir=args.data_dir.resolve(),
        port=args.port,
        listen=args.listen,
        container_host=args.container_host,
        env_file=args.env_file,
    )
    if os.environ.get("DATABASE_URL"):
        emit("DATABASE_URL is ignored: make db serves the embedded PostgreSQL")
    with stop_signals() as stop:
        try:
            serve_database(options, stop)
        except (ServerInUse, CannotListen) as exc:
            emit(str(exc))
            return 2
    return 0


def _token(args: argparse.Namespace) -> int:
    use_stream(sys.stderr)  # stdout carries the token alone
    parameters = {"AuthEnabled": "true", **_parameters(args.parameter_overrides)}
    authorizers = [
        a for api in load_api_auth(args.template.resolve(), parameters).values() for a in api.authorizers.values()
    ]
    if not authorizers:
        emit(f"{args.template} has no JWT authorizer to mint a token for")
        return 2
    sys.stdout.write(mint_token(args.user_id, authorizers[0], claim=args.claim, expires_in_s=args.expires_in) + "\n")
    return 0


def _read_event(source: str | None) -> Any:
    if source is None:
        return {}
    text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    return json.loads(text)


def main(argv: list[str] | None = None) -> int:
    """Run a command; the process's exit status."""
    args = _parser().parse_args(argv)
    if args.command == "token":
        return _token(args)
    if args.command == "db":
        return _db(args)
    database_url = os.environ.get("DATABASE_URL") or None
    if args.command == "serve":
        options = ServeOptions(
            host=args.host,
            port=args.port,
            template=args.template.resolve(),
            env_vars=args.env_vars,
            parameters=_parameters(args.parameter_overrides),
            max_concurrency=args.max_concurrency,
            reload=not args.no_reload,
            jwks=args.jwks,
            timeouts=Timeouts(idle_s=args.idle_timeout, request_s=args.request_timeout),
        )
        with dev_database(args.data_dir, database_url) as urls:
            asyncio.run(serve(options, urls))
        return 0
    use_stream(sys.stderr)
    event = _read_event(args.event)
    options = ServeOptions(
        template=args.template.resolve(), env_vars=args.env_vars, parameters=_parameters(args.parameter_overrides)
    )
    with dev_database(args.data_dir, database_url) as urls:
        functions = load(options, urls)
        if args.function not in functions:
            emit(f"No function {args.function} in {options.template}; there are: {', '.join(functions)}")
            return 2
        ok = asyncio.run(invoke(functions[args.function], event))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
