"""What must never go over the wire to RDS Proxy or PgBouncer in transaction mode.

Session state pins an RDS Proxy connection to one client for the rest of the session (AWS:
"Avoiding pinning an RDS Proxy"), and a transaction-mode pooler hands it to other clients:
SET and friends, prepared statements (SQL PREPARE/DEALLOCATE, or a Parse with a name),
DISCARD, LISTEN, session advisory locks, temporary tables, WITH HOLD cursors, and startup
options (`-c name=value`, which RDS Proxy refuses outright). `pinning_problems` lists every
such thing in what a relay recorded.
"""

from __future__ import annotations

import re

from local.devdb.pgwire import Message

# Statements that read or change session state, at the start of any statement of a Query.
_SESSION_COMMANDS = re.compile(r"^(SET|RESET|PREPARE|EXECUTE|DEALLOCATE|DISCARD|LISTEN|UNLISTEN|LOAD)\b", re.IGNORECASE)
# Calls and clauses anywhere in a statement that create session state.
_SESSION_CALLS = re.compile(
    r"\b(pg_advisory_lock|pg_advisory_lock_shared|pg_try_advisory_lock|pg_try_advisory_lock_shared"
    r"|set_config|currval|lastval)\s*\("
    r"|\bCREATE\s+(GLOBAL\s+|LOCAL\s+)?TEMP(ORARY)?\b"
    r"|\bWITH\s+HOLD\b",
    re.IGNORECASE,
)
# String literals (client-side binding puts every value in one) and quoted names, whose text is
# data, and comments; read left to right, so each hides the others' quote marks.
_NOT_SQL = re.compile(
    r"(?P<quoted>[EeUu]?&?'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\")|(?P<comment>--[^\n]*|/\*.*?\*/)", re.DOTALL
)


def statements_of(sql: str) -> list[str]:
    """The statements of a Query's text: literals and quoted names emptied, comments removed."""
    text = _NOT_SQL.sub(lambda found: "''" if found.group("quoted") else " ", sql)
    return [part.strip() for part in text.split(";") if part.strip()]


def pinning_problems(messages: list[Message]) -> list[str]:
    """Everything in `messages` (a client's, in order) that would pin or leak session state."""
    problems: list[str] = []
    for message in messages:
        parameters = message.startup_parameters
        if parameters is not None and parameters.get("options"):
            problems.append(f"startup options {parameters['options']!r}")
        if message.statement_name:
            problems.append(f"named prepared statement {message.statement_name!r} ({message.kind})")
        if message.kind == "F":
            problems.append("function call message (fast path)")
        if message.sql is None:
            continue
        for statement in statements_of(message.sql):
            if found := _SESSION_COMMANDS.match(statement):
                problems.append(f"{found.group(1).upper()}: {statement[:80]!r}")
            if found := _SESSION_CALLS.search(statement):
                problems.append(f"{found.group(0)}: {statement[:80]!r}")
    return problems
