"""POST /users/{user_id}/tasks: create a task, at most once per Idempotency-Key."""

from typing import Annotated

from tasks_core import environment, idempotency, repository
from tasks_core.models import IdempotencyKeyValue, Task, TaskCreate, UserId
from tasks_core.observability import lambda_entrypoint
from tasks_core.openapi_docs import ETAG, LOCATION, REPLAYED, openapi_responses
from tasks_core.params import Body, Header, Path
from tasks_core.resolver import TaskResolver
from tasks_core.responses import Response, task_response, user_path
from tasks_core.settings import get_settings

app = TaskResolver()


@app.post(
    "/users/<user_id>/tasks",
    summary="Create a task",
    operation_id="createTask",
    tags=["tasks"],
    responses=openapi_responses(
        201, "The created task", Task, errors=(400, 403, 409, 413, 422, 503), headers=LOCATION | ETAG | REPLAYED
    ),
)
def create_task(
    user_id: Annotated[UserId, Path()],
    task: Annotated[TaskCreate, Body()],
    idempotency_key: Annotated[
        IdempotencyKeyValue | None,
        Header(alias="Idempotency-Key", description="Retries with this key create the task at most once"),
    ] = None,
) -> Response:
    key = idempotency.idempotency_key(idempotency_key, task, get_settings().idempotency_key_ttl_s)
    created = repository.create_task(environment.database(), user_id, task, key)
    headers = {"Location": f"{user_path(user_id)}/{created.task.id}"}
    if created.replayed:
        headers["Idempotent-Replayed"] = "true"
    return task_response(201, created.task, headers)


lambda_handler = lambda_entrypoint(app, "CreateTask")
