"""Black-box smoke check of a deployed Task API stage, for right after `sam deploy`.

    python3 -m ops.smoke https://abc123.execute-api.us-east-1.amazonaws.com
    SMOKE_TOKEN="$(get-a-token)" python3 -m ops.smoke https://api.example.com   # JWT authorizer on

It walks the contract's main paths (docs/API.md) under a fresh random user, or the token's user
when a token is given, and prints one line per check: PASS or FAIL with what differed. Every
task it created is deleted at the end, also when a check failed. The exit status is 0 when every
check passed, 1 otherwise, 2 for bad arguments. Each request has a timeout and the whole run a
time bound. Standard library only, Python 3.7 or later: it runs wherever python3 does.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import re
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any, NoReturn, TypeVar

USER_AGENT = "tasks-api-smoke/1"
TASK_FIELDS = {"id", "title", "description", "completed", "user_id", "created_at", "updated_at"}
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")
NEXT_LINK = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')
# Bodies are small (a page is at most 200 tasks); reading more than this means something is wrong.
MAX_BODY_BYTES = 2_000_000
# Deleting what the run created gets its own time after the checks' bound.
CLEANUP_BOUND_S = 30.0
# A user id path segment as the API writes it in Location and Link (RFC 3986 unreserved + @:+).
PATH_SAFE = "-._~@:+"

T = TypeVar("T")


class CheckFailed(Exception):
    """An expectation of a check that did not hold."""

    def __init__(self, message: str, response: Response | None = None) -> None:
        super().__init__(message)
        self.response = response


class TimeBoundReached(Exception):
    """The run's time bound ran out before a request could be sent."""


@dataclass
class Response:
    """An HTTP response: status, headers by lower-case name, body bytes."""

    status: int
    headers: dict[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        """A header's value, or None."""
        return self.headers.get(name.lower())

    def json(self) -> Any:
        """The body as JSON; a CheckFailed when it is not."""
        try:
            return json.loads(self.body.decode("utf-8"))
        except ValueError:
            raise CheckFailed(f"the body is not JSON: {self.text()}", self) from None

    def text(self, limit: int = 200) -> str:
        """The body for a message, shortened."""
        text = self.body.decode("utf-8", errors="replace")
        return text if len(text) <= limit else text[:limit] + "..."

    def request_id(self) -> str | None:
        """API Gateway's request id (header, else the error body's), to find the request in the logs."""
        found = self.header("apigw-requestid")
        if found:
            return found
        try:
            body = json.loads(self.body.decode("utf-8"))
        except ValueError:
            return None
        return body.get("request_id") if isinstance(body, dict) else None


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A 3xx is an answer to check, not a place to go."""

    def redirect_request(  # noqa: PLR0917 (urllib's signature)
        self, req: urllib.request.Request, fp: IO[bytes], code: int, msg: str, headers: Any, newurl: str
    ) -> None:
        return None


class Client:
    """HTTP requests to one API, each with a timeout, none after the run's deadline."""

    def __init__(self, base_url: str, token: str | None, timeout_s: float, deadline: float) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout_s = timeout_s
        self.deadline = deadline
        self._opener = urllib.request.build_opener(_NoRedirects)

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        auth: bool = True,
    ) -> Response:
        """One request; 4xx and 5xx are responses too, only network failures raise."""
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise TimeBoundReached("the run's time bound was reached before this request")
        all_headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        if json_body is not None:
            body = json.dumps(json_body).encode("utf-8")
        if body is not None:
            all_headers["Content-Type"] = "application/json"
        if auth and self.token:
            all_headers["Authorization"] = f"Bearer {self.token}"
        all_headers.update(headers or {})
        # The base URL's scheme is http or https (main checks it), so no file: or custom scheme opens.
        request = urllib.request.Request(self.base_url + path, data=body, headers=all_headers, method=method)  # noqa: S310
        try:
            with self._opener.open(request, timeout=min(self.timeout_s, remaining)) as response:
                return Response(response.getcode(), _lower(response.headers), response.read(MAX_BODY_BYTES))
        except urllib.error.HTTPError as error:
            try:
                return Response(error.code, _lower(error.headers), error.read(MAX_BODY_BYTES))
            finally:
                error.close()


def _lower(headers: Any) -> dict[str, str]:
    return {str(name).lower(): str(value) for name, value in headers.items()}


def expect(condition: bool, message: str, response: Response | None = None) -> None:
    """Fail the check with `message` unless `condition` holds."""
    if not condition:
        raise CheckFailed(message, response)


def present(value: T | None, message: str, response: Response | None = None) -> T:
    """`value`, or a failed check with `message` when there is none."""
    if value is None:
        raise CheckFailed(message, response)
    return value


def expect_status(response: Response, status: int) -> None:
    """The response has this status."""
    expect(response.status == status, f"expected {status}, got {response.status} {response.text()}", response)


def expect_error(response: Response, status: int, codes: tuple[str, ...], field: str | None = None) -> str:
    """The contract's error body with this status and one of these codes (and this field); the code."""
    expect_status(response, status)
    content_type = (response.header("content-type") or "").split(";")[0].strip()
    expect(content_type == "application/json", f"Content-Type {content_type!r}, not application/json", response)
    body = response.json()
    expect(isinstance(body, dict) and body.get("code") in codes, f"expected code {' or '.join(codes)}, got {body}")
    expect(isinstance(body.get("detail"), str) and bool(body["detail"]), f"no detail in {body}", response)
    expect(bool(body.get("request_id")), f"no request_id in {body}", response)
    if field is not None:
        fields = [error.get("field") for error in body.get("errors") or [] if isinstance(error, dict)]
        expect(field in fields, f"expected an error on field {field!r}, got {body.get('errors')}", response)
    return str(body["code"])


def expect_task(response: Response, **expected: Any) -> dict[str, Any]:
    """The body is one task with every field, well typed, and the expected values."""
    task = response.json()
    expect(isinstance(task, dict) and set(task) == TASK_FIELDS, f"not a task: {response.text()}", response)
    expect(isinstance(task["id"], int) and task["id"] > 0, f"bad id {task['id']!r}", response)
    for name in ("created_at", "updated_at"):
        expect(bool(TIMESTAMP.match(str(task[name]))), f"{name} {task[name]!r} is not RFC 3339 UTC with microseconds")
    for name, value in expected.items():
        expect(task[name] == value, f"{name} is {task[name]!r}, expected {value!r}", response)
    return dict(task)


def token_subject(token: str, claim: str) -> str | None:
    """The user a JWT is for (its `claim`), read without verifying it: the API verifies it."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        return None
    value = claims.get(claim) if isinstance(claims, dict) else None
    return value if isinstance(value, str) and value else None


@dataclass
class Result:
    """One check's outcome."""

    name: str
    passed: bool
    detail: str

    def line(self) -> str:
        """The check's output line (one line, whatever the server's text held)."""
        detail = self.detail.replace("\r", "\\r").replace("\n", "\\n")
        return f"{'PASS' if self.passed else 'FAIL'} {self.name}: {detail}"


class Smoke:
    """The checks, in order, sharing what earlier ones created."""

    def __init__(self, client: Client, user: str, *, token_mode: bool, started_empty: bool) -> None:
        self.client = client
        self.user = user
        self.other_user = f"smoke-other-{uuid.uuid4().hex[:12]}"
        self.token_mode = token_mode
        self.started_empty = started_empty
        self.tasks_path = f"/users/{urllib.parse.quote(user, safe=PATH_SAFE)}/tasks"
        self.created: list[int] = []
        self.deleted: set[int] = set()
        self.results: list[Result] = []
        self.task: dict[str, Any] | None = None
        self.create_response: Response | None = None
        self.keyed_response: Response | None = None
        self.idempotency_key = f"smoke-{uuid.uuid4()}"
        self.etag: str | None = None
        self.stale_etag: str | None = None

    def checks(self) -> list[tuple[str, Callable[[], str]]]:
        """Every check by name, in the order they run."""
        checks = [
            ("health", self.check_health),
            ("create", self.check_create),
            ("create-with-key", self.check_create_with_key),
            ("create-replay", self.check_create_replay),
            ("create-key-reused", self.check_create_key_reused),
            ("get-etag", self.check_get_etag),
            ("get-if-none-match", self.check_get_if_none_match),
            ("update-if-match", self.check_update_if_match),
            ("update-stale-if-match", self.check_update_stale_if_match),
            ("update", self.check_update),
            ("list-filter-next-page", self.check_list),
            ("validation-error", self.check_validation_error),
            ("other-users-task", self.check_other_users_task),
            ("delete", self.check_delete),
        ]
        if self.token_mode:
            checks.insert(-1, ("no-token-401", self.check_no_token))
        return checks

    def run(self, emit: Callable[[Result], None]) -> list[Result]:
        """Run every check, then delete what was created; each result is emitted as it comes."""
        try:
            for name, check in self.checks():
                self._record(name, check, emit)
        finally:
            self.client.deadline = time.monotonic() + CLEANUP_BOUND_S
            self._record("cleanup", self.cleanup, emit)
        return self.results

    def _record(self, name: str, check: Callable[[], str], emit: Callable[[Result], None]) -> None:
        try:
            result = Result(name, True, check())
        except CheckFailed as failure:
            request_id = failure.response.request_id() if failure.response else None
            result = Result(name, False, str(failure) + (f" [request id {request_id}]" if request_id else ""))
        except TimeBoundReached as reached:
            result = Result(name, False, str(reached))
        except OSError as error:  # refused, reset, DNS, TLS, timeout
            result = Result(name, False, f"request failed: {error!r}")
        except (KeyError, IndexError, TypeError, AttributeError, ValueError) as error:
            # JSON of another shape than the contract's (a list for an object, a missing field).
            result = Result(name, False, f"unexpected answer: {error!r}")
        self.results.append(result)
        emit(result)

    # --- helpers -------------------------------------------------------------------------------

    def _task_path(self, task_id: int, user_path: str | None = None) -> str:
        return f"{user_path or self.tasks_path}/{task_id}"

    def _create(
        self, json_body: Any = None, headers: dict[str, str] | None = None, body: bytes | None = None
    ) -> Response:
        """POST a task; any task a 201 names is remembered for the cleanup, whatever the check expected."""
        response = self.client.request("POST", self.tasks_path, json_body=json_body, body=body, headers=headers)
        if response.status == 201:
            try:
                task_id = json.loads(response.body.decode("utf-8"))["id"]
            except (ValueError, KeyError, TypeError):
                task_id = None
            if isinstance(task_id, int) and task_id not in self.created:
                self.created.append(task_id)
        return response

    def _need_task(self) -> dict[str, Any]:
        return present(self.task, "no task to check: `create` failed")

    def _need_etag(self) -> str:
        return present(self.etag, "no ETag to send: `get-etag` failed")

    def _expect_location(self, response: Response, task_id: int) -> None:
        location = response.header("location")
        expected = f"/users/{self.user}/tasks/{task_id}"
        expect(
            location is not None and urllib.parse.unquote(location) == expected,
            f"Location {location!r}, expected {expected!r}",
            response,
        )

    # --- checks --------------------------------------------------------------------------------

    def check_health(self) -> str:
        """GET /health answers 200 with the database ok (no token needed)."""
        response = self.client.request("GET", "/health", auth=False)
        expect_status(response, 200)
        body = response.json()
        expect(body == {"status": "ok", "database": "ok"}, f"expected status ok, database ok; got {body}", response)
        return "200, database ok"

    def check_create(self) -> str:
        """POST creates a task: 201, the task, its Location."""
        response = self._create({"title": "  smoke: plain create  ", "description": "made by ops.smoke"})
        expect_status(response, 201)
        task = expect_task(
            response, title="smoke: plain create", description="made by ops.smoke", completed=False, user_id=self.user
        )
        expect(task["created_at"] == task["updated_at"], f"created_at != updated_at on create: {task}", response)
        self._expect_location(response, task["id"])
        self.task, self.create_response = task, response
        return f"201, task {task['id']}, Location {response.header('location')}"

    def check_create_with_key(self) -> str:
        """POST with an Idempotency-Key creates a task as usual, not marked as a replay."""
        response = self._create(
            {"title": "smoke: keyed create", "completed": False}, {"Idempotency-Key": self.idempotency_key}
        )
        expect_status(response, 201)
        task = expect_task(response, title="smoke: keyed create", completed=False, user_id=self.user)
        self._expect_location(response, task["id"])
        replayed = response.header("idempotent-replayed")
        expect(replayed != "true", "the first request with a key says Idempotent-Replayed: true", response)
        self.keyed_response = response
        return f"201, task {task['id']}"

    def check_create_replay(self) -> str:
        """The same key and request (other JSON formatting) replays the stored 201 byte for byte."""
        first = present(self.keyed_response, "no first response to replay: `create-with-key` failed")
        same_request = b'{ "completed" : false,\n  "title": "smoke: keyed create" }'
        response = self._create(body=same_request, headers={"Idempotency-Key": self.idempotency_key})
        expect_status(response, 201)
        expect(
            response.header("idempotent-replayed") == "true",
            f"Idempotent-Replayed is {response.header('idempotent-replayed')!r}, expected 'true'",
            response,
        )
        expect(response.body == first.body, f"body differs from the first 201: {response.text()}", response)
        for name in ("location", "etag"):
            expect(
                response.header(name) == first.header(name),
                f"{name} {response.header(name)!r} differs from the first 201's {first.header(name)!r}",
                response,
            )
        return "201, Idempotent-Replayed: true, same body, Location and ETag"

    def check_create_key_reused(self) -> str:
        """The same key with a different request is 422 idempotency_key_reused; nothing is created."""
        response = self._create({"title": "smoke: another title"}, {"Idempotency-Key": self.idempotency_key})
        expect_error(response, 422, ("idempotency_key_reused",))
        return "422 idempotency_key_reused"

    def check_get_etag(self) -> str:
        """GET a task: 200, the task as created, a strong ETag equal to the create's."""
        task = self._need_task()
        response = self.client.request("GET", self._task_path(task["id"]))
        expect_status(response, 200)
        expect(response.json() == task, f"the task differs from the created one: {response.text()}", response)
        etag = present(response.header("etag"), "no ETag header", response)
        expect(re.fullmatch(r'"[^"]*"', etag) is not None, f"ETag {etag!r} is not a strong tag", response)
        created_etag = self.create_response.header("etag") if self.create_response else None
        expect(created_etag == etag, f"the create's ETag {created_etag!r} is not the task's {etag!r}", response)
        self.etag = etag
        return f"200, ETag {etag}"

    def check_get_if_none_match(self) -> str:
        """If-None-Match with the current tag (also weak, in a list) is 304 with the ETag, no body."""
        task, etag = self._need_task(), self._need_etag()
        for value in (etag, f'"smoke-no-match", W/{etag}'):
            response = self.client.request("GET", self._task_path(task["id"]), headers={"If-None-Match": value})
            expect_status(response, 304)
            expect(response.header("etag") == etag, f"ETag {response.header('etag')!r} on the 304", response)
            expect(response.body == b"", f"the 304 has a body: {response.text()}", response)
        return "304 for the tag and for a list with its weak form"

    def check_update_if_match(self) -> str:
        """PATCH with If-Match of the current tag: 200, the change, a new ETag."""
        task, etag = self._need_task(), self._need_etag()
        response = self.client.request(
            "PATCH", self._task_path(task["id"]), json_body={"title": "smoke: guarded"}, headers={"If-Match": etag}
        )
        expect_status(response, 200)
        updated = expect_task(response, id=task["id"], title="smoke: guarded")
        new_etag = response.header("etag")
        expect(new_etag is not None and new_etag != etag, f"ETag after the change is {new_etag!r}", response)
        self.task, self.etag, self.stale_etag = updated, new_etag, etag
        return f"200, ETag {etag} -> {new_etag}"

    def check_update_stale_if_match(self) -> str:
        """PATCH with a stale If-Match: 412 precondition_failed, and the task is unchanged."""
        task = self._need_task()
        stale_etag = present(self.stale_etag, "no stale ETag: `update-if-match` failed")
        path = self._task_path(task["id"])
        response = self.client.request(
            "PATCH", path, json_body={"title": "smoke: stale write"}, headers={"If-Match": stale_etag}
        )
        expect_error(response, 412, ("precondition_failed",))
        after = self.client.request("GET", path)
        expect_status(after, 200)
        expect(after.json() == task, f"the stale write changed the task: {after.text()}", after)
        return "412 precondition_failed, task unchanged"

    def check_update(self) -> str:
        """PATCH without preconditions changes only the fields sent and moves updated_at."""
        task = self._need_task()
        response = self.client.request(
            "PATCH", self._task_path(task["id"]), json_body={"description": "updated by ops.smoke"}
        )
        expect_status(response, 200)
        updated = expect_task(
            response,
            id=task["id"],
            title=task["title"],
            completed=task["completed"],
            description="updated by ops.smoke",
        )
        expect(updated["updated_at"] > task["updated_at"], f"updated_at did not move: {updated['updated_at']}")
        self.task = updated
        return f"200, updated_at {task['updated_at']} -> {updated['updated_at']}"

    def check_list(self) -> str:
        """`completed=true&limit=1`: one completed task and a Link to the next page, which has the other."""
        listed = []
        for number in (1, 2):
            response = self._create({"title": f"smoke: list {number}", "completed": True})
            expect_status(response, 201)
            listed.append(expect_task(response, completed=True)["id"])
        first = self.client.request("GET", f"{self.tasks_path}?completed=true&limit=1")
        expect_status(first, 200)
        page = first.json()
        expect(isinstance(page, list) and len(page) == 1, f"expected a page of 1 task, got {first.text()}", first)
        expect(page[0].get("completed") is True, f"the filter let through {page[0]}", first)
        link = present(
            NEXT_LINK.search(first.header("link") or ""), f'no Link rel="next": {first.header("link")!r}', first
        )
        next_url = link.group(1)
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(next_url).query)
        expect(
            query.get("limit") == ["1"] and query.get("completed") == ["true"] and bool(query.get("cursor")),
            f"the next link {next_url!r} does not keep limit=1 and completed=true with a cursor",
            first,
        )
        second = self.client.request("GET", next_url)
        expect_status(second, 200)
        rest = second.json()
        expect(isinstance(rest, list) and len(rest) >= 1, f"expected a next page, got {second.text()}", second)
        expect(all(item.get("completed") is True for item in rest), f"the filter let through {rest}", second)
        expect(all(item["id"] > page[0]["id"] for item in rest), "the next page does not continue after the first")
        if self.started_empty:
            seen = [page[0]["id"]] + [item["id"] for item in rest]
            expect(seen == listed, f"listed ids {seen}, expected the completed tasks {listed}", second)
            expect(second.header("link") is None, f"a Link after the last page: {second.header('link')}", second)
        return f"page of 1 ({page[0]['id']}), then {[item['id'] for item in rest]} via {next_url.split('?')[0]}"

    def check_validation_error(self) -> str:
        """An empty title is 400 validation_error on field title, in the contract's error shape."""
        response = self._create({"title": "   "})
        expect_error(response, 400, ("validation_error",), field="title")
        return "400 validation_error (title)"

    def check_other_users_task(self) -> str:
        """Another user's path never reaches this task: 404 (403 with a token, which is for one user)."""
        task = self._need_task()
        other_path = self._task_path(task["id"], f"/users/{self.other_user}/tasks")
        seen = []
        for method in ("GET", "DELETE"):
            response = self.client.request(method, other_path)
            if self.token_mode and response.status == 403:
                seen.append(f"{method} 403 {expect_error(response, 403, ('forbidden',))}")
            else:
                seen.append(f"{method} 404 {expect_error(response, 404, ('not_found',))}")
        still_there = self.client.request("GET", self._task_path(task["id"]))
        expect_status(still_there, 200)
        return ", ".join(seen) + "; the task is still there"

    def check_no_token(self) -> str:
        """With the authorizer on, a task route without a token is API Gateway's 401."""
        response = self.client.request("GET", self.tasks_path, auth=False)
        expect_status(response, 401)
        return "401 without a token"

    def check_delete(self) -> str:
        """DELETE answers the contract's message; the task is then 404."""
        task = self._need_task()
        path = self._task_path(task["id"])
        response = self.client.request("DELETE", path)
        expect_status(response, 200)
        body = response.json()
        expect(body == {"message": "Task deleted successfully"}, f"unexpected body {body}", response)
        self.deleted.add(task["id"])
        gone = self.client.request("GET", path)
        expect_error(gone, 404, ("not_found",))
        return "200, then 404"

    def cleanup(self) -> str:
        """Delete every task the run created (a 404 means it is already gone)."""
        left = [task_id for task_id in self.created if task_id not in self.deleted]
        failures = []
        for task_id in left:
            response = self.client.request("DELETE", self._task_path(task_id))
            if response.status in (200, 404):
                self.deleted.add(task_id)
            else:
                failures.append(f"{task_id}: {response.status} {response.text()}")
        expect(not failures, f"could not delete {'; '.join(failures)}")
        return f"deleted {len(left)} of the {len(self.created)} tasks created" if left else "nothing left to delete"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python3 -m ops.smoke",
        description="Black-box check of a deployed Task API stage (docs/operations.md).",
    )
    parser.add_argument(
        "base_url", help="the stack's ApiUrl output, e.g. https://abc123.execute-api.REGION.amazonaws.com"
    )
    parser.add_argument(
        "--token",
        default=os.environ.get("SMOKE_TOKEN") or None,
        help="a JWT sent as Authorization: Bearer when the authorizer is on (default: $SMOKE_TOKEN, which"
        " keeps it out of the process list)",
    )
    parser.add_argument("--user", help="the user to act as (default: a fresh random one, or the token's)")
    parser.add_argument("--user-claim", default="sub", help="the token claim holding the user id (default sub)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per request (default 10)")
    parser.add_argument(
        "--total-timeout",
        type=float,
        default=60.0,
        help="seconds for all the checks (default 60); cleanup gets 30 more",
    )
    return parser


def _abort_after(seconds: float) -> threading.Timer:
    """A last resort if a request ignores its timeout: report and exit when the bound is long past."""

    def abort() -> NoReturn:
        sys.stdout.write(f"FAIL time-bound: the run did not finish in {seconds:.0f} s\n")
        sys.stdout.flush()
        os._exit(1)

    timer = threading.Timer(seconds, abort)
    timer.daemon = True
    timer.start()
    return timer


def main(argv: list[str] | None = None) -> int:
    """Run the checks; the process's exit status."""
    args = _parser().parse_args(argv)
    if isinstance(sys.stdout, io.TextIOWrapper):  # a server's text must not crash an ASCII terminal
        sys.stdout.reconfigure(errors="backslashreplace")
    if urllib.parse.urlsplit(args.base_url).scheme not in ("http", "https") or args.timeout <= 0:
        sys.stderr.write("BASE_URL must be an http(s) URL and --timeout positive\n")
        return 2
    user = args.user
    if user is None and args.token:
        user = token_subject(args.token, args.user_claim)
        if user is None:
            sys.stderr.write(f"cannot read the {args.user_claim!r} claim of the token: pass --user\n")
            return 2
    started = time.monotonic()
    watchdog = _abort_after(args.total_timeout + CLEANUP_BOUND_S + 2 * args.timeout)
    client = Client(args.base_url, args.token, args.timeout, started + args.total_timeout)
    started_empty = True
    if user is None:
        user = f"smoke-{uuid.uuid4().hex[:12]}"
    else:
        # A given user may have tasks already: the listing is then checked without exact ids.
        try:
            probe = client.request("GET", f"/users/{urllib.parse.quote(user, safe=PATH_SAFE)}/tasks?limit=1")
            started_empty = probe.status == 200 and probe.body.strip() == b"[]"
        except (OSError, TimeBoundReached):
            started_empty = False
    print(f"smoke check of {args.base_url} as user {user}" + (" (with a token)" if args.token else ""), flush=True)

    def emit(result: Result) -> None:
        print(result.line(), flush=True)

    try:
        results = Smoke(client, user, token_mode=bool(args.token), started_empty=started_empty).run(emit)
    except KeyboardInterrupt:  # the cleanup has run (a second Ctrl-C stops it)
        print("interrupted", flush=True)
        return 130
    finally:
        watchdog.cancel()
    failed = [result.name for result in results if not result.passed]
    elapsed = time.monotonic() - started
    print(f"{len(results) - len(failed)} passed, {len(failed)} failed in {elapsed:.1f} s", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
