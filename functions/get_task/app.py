"""GET /users/{user_id}/tasks/{task_id}: one of the user's tasks, or 304 if the client's is current."""

from typing import Annotated

from tasks_core import conditional, environment, repository
from tasks_core.models import Task, TaskId, UserId
from tasks_core.observability import lambda_entrypoint
from tasks_core.openapi_docs import ETAG, openapi_responses
from tasks_core.params import Header, Path
from tasks_core.resolver import TaskResolver
from tasks_core.responses import Response, not_modified, task_response

app = TaskResolver()


@app.get(
    "/users/<user_id>/tasks/<task_id>",
    summary="Get a task",
    operation_id="getTask",
    tags=["tasks"],
    responses=openapi_responses(200, "The task", Task, errors=(400, 403, 404, 503), headers=ETAG, not_modified=True),
)
def get_task(
    user_id: Annotated[UserId, Path()],
    task_id: Annotated[TaskId, Path()],
    if_none_match: Annotated[
        str | None, Header(alias="If-None-Match", description="ETags of the client's copy, or *: 304 when current")
    ] = None,
) -> Response:
    task = repository.get_task(environment.database(), user_id, task_id)
    if conditional.none_match(if_none_match, task.etag):
        return not_modified(task)
    return task_response(200, task)


lambda_handler = lambda_entrypoint(app, "GetTask")
