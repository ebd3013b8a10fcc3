"""`python -m local serve`: the whole API of a template on one machine.

Starts the database (the embedded PostgreSQL, or DATABASE_URL), applies the migrations as the
owner, points the functions at it as the API's role (see local/devdb/database.py), mounts
each HttpApi route of the template on its function's worker pool, serves HTTP, reloads code on
change, and on Ctrl-C or SIGTERM stops the server, the workers and the database it started.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from local.devdb.database import DatabaseUrls
from local.emulator.pool import IDLE_TIMEOUT_S, FunctionPool
from local.emulator.reload import watch
from local.emulator.variables import apply_overrides, read_env_vars_file
from local.gateway.dispatch import Gateway, GatewayAuth
from local.gateway.docs import ApiDocs
from local.gateway.http_server import HttpServer, Timeouts
from local.gateway.jwt_auth import TokenVerifier, dev_jwks, load_api_auth
from local.output import emit
from local.template import TEMPLATE_PATH, Function, load_cors, load_functions


@dataclass(frozen=True)
class ServeOptions:
    """What `serve` was asked for."""

    host: str = "127.0.0.1"
    port: int = 3000
    template: Path = TEMPLATE_PATH
    env_vars: Path | None = None
    parameters: Mapping[str, str] = field(default_factory=dict)
    max_concurrency: int = 4
    reload: bool = True
    # The key set JWT authorizers verify tokens with; None: the development key.
    jwks: Path | None = None
    # Seconds a worker may stay idle before it is stopped (None: until a reload or stop).
    worker_idle_timeout_s: float | None = IDLE_TIMEOUT_S
    timeouts: Timeouts = field(default_factory=Timeouts)


def database_parameters(urls: DatabaseUrls) -> dict[str, str]:
    """The template parameters of a local database: the API functions connect as the API's role,
    the migrations function as the owner."""
    return {"DatabaseUrl": urls.app, "MigrationDatabaseUrl": urls.owner}


def load(options: ServeOptions, urls: DatabaseUrls) -> dict[str, Function]:
    """The template's functions, pointed at the database, with the overrides file applied."""
    parameters = {**database_parameters(urls), **options.parameters}
    functions = load_functions(options.template, parameters=parameters)
    if options.env_vars is not None:
        functions, ignored = apply_overrides(functions, read_env_vars_file(options.env_vars))
        for name in ignored:
            emit(f"Ignored {name} from {options.env_vars}: the template does not declare it")
    return functions


def gateway_auth(options: ServeOptions) -> GatewayAuth | None:
    """The JWT authorizers of the template as configured, or None when it has none."""
    apis = load_api_auth(options.template, options.parameters)
    if not apis:
        return None
    keys = json.loads(options.jwks.read_text(encoding="utf-8")) if options.jwks else dev_jwks()
    for name, api in apis.items():
        for authorizer in api.authorizers.values():
            emit(
                f"JWT authorizer {authorizer.name} on {name}: issuer {authorizer.issuer}, "
                f"audience {', '.join(authorizer.audiences)}; keys from {options.jwks or 'the development key'}"
            )
    return GatewayAuth(apis, TokenVerifier(keys))


def _print_routes(functions: Mapping[str, Function], base: str) -> None:
    for name, function in functions.items():
        for route in function.routes:
            emit(f"Mounting {name} at {base}{route.path} [{route.method}]")
    emit(f"Mounting docs at {base}/docs and {base}/openapi.json")


async def serve(options: ServeOptions, urls: DatabaseUrls) -> None:
    """Serve until SIGINT or SIGTERM, then stop everything this started."""
    functions = load(options, urls)
    # Imports at once across every function: as many as the machine has CPUs (FunctionPool).
    cold_starts = asyncio.Semaphore(os.cpu_count() or 2)
    pools = {
        name: FunctionPool(
            function,
            function.reserved_concurrency or options.max_concurrency,
            idle_timeout_s=options.worker_idle_timeout_s,
            cold_starts=cold_starts,
        )
        for name, function in functions.items()
    }
    docs = ApiDocs(options.template)
    cors = load_cors(options.template, {**database_parameters(urls), **options.parameters})
    gateway = Gateway(functions, pools, cors, docs, gateway_auth(options))
    http = HttpServer(gateway, options.host, options.port, options.timeouts)
    port = await http.start()
    base = f"http://{options.host}:{port}"
    _print_routes(functions, base)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)

    async def reload(names: set[str], changed: list[Path]) -> None:
        shown = ", ".join(str(path.name) for path in changed[:3])
        emit(f"Reloading {', '.join(sorted(names))} after a change to {shown}")
        docs.invalidate()
        await asyncio.gather(*(pools[name].reload() for name in names))

    watcher = asyncio.create_task(watch(functions, reload, stop)) if options.reload else None
    # SnapStart functions are initialized now, in the background, as Lambda does when a version is
    # published; a request that comes first waits for its function's snapshot.
    for name, pool in pools.items():
        if functions[name].routes:
            pool.prepare()
    emit(f"Running on {base} (Ctrl-C to stop)")
    await stop.wait()
    emit("Stopping")
    # Requests still in flight end when their workers stop, so the server's wait for them is short.
    await asyncio.gather(http.stop(), *(pool.close() for pool in pools.values()))
    if watcher is not None:
        await watcher
