"""PUT and PATCH /users/{user_id}/tasks/{task_id}: change the fields present in the body."""

from typing import Annotated

from tasks_core import conditional, environment, repository
from tasks_core.models import Task, TaskId, TaskUpdate, UserId
from tasks_core.observability import lambda_entrypoint
from tasks_core.openapi_docs import ETAG, openapi_responses
from tasks_core.params import Body, Header, Path
from tasks_core.resolver import TaskResolver
from tasks_core.responses import Response, task_response

app = TaskResolver()
ROUTE = "/users/<user_id>/tasks/<task_id>"
RESPONSES = openapi_responses(200, "The updated task", Task, errors=(400, 403, 404, 412, 413, 503), headers=ETAG)


# PUT and PATCH are the same partial update (API.md): only the fields present change.
@app.put(ROUTE, summary="Update a task", operation_id="putTask", tags=["tasks"], responses=RESPONSES)
@app.patch(ROUTE, summary="Update a task", operation_id="patchTask", tags=["tasks"], responses=RESPONSES)
def update_task(
    user_id: Annotated[UserId, Path()],
    task_id: Annotated[TaskId, Path()],
    changes: Annotated[TaskUpdate, Body()],
    if_match: Annotated[
        str | None, Header(alias="If-Match", description="Change only if the task's ETag is one of these (or *)")
    ] = None,
) -> Response:
    task = repository.update_task(
        environment.database(), user_id, task_id, changes, conditional.if_match_tags(if_match)
    )
    return task_response(200, task)


lambda_handler = lambda_entrypoint(app, "UpdateTask")
