"""PUT and PATCH /users/{user_id}/tasks/{task_id}: change the fields present in the body."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path

from tasks_core import repository, runtime
from tasks_core.errors import TaskNotFound
from tasks_core.http import TaskResolver, json_response, openapi_responses
from tasks_core.models import Task, TaskId, TaskUpdate, UserId
from tasks_core.observability import lambda_entrypoint

app = TaskResolver()
ROUTE = "/users/<user_id>/tasks/<task_id>"
RESPONSES = openapi_responses(200, "The updated task", Task, errors=(400, 404, 413, 503))


# PUT and PATCH are the same partial update (API.md): only the fields present change.
@app.put(ROUTE, summary="Update a task", operation_id="putTask", tags=["tasks"], responses=RESPONSES)
@app.patch(ROUTE, summary="Update a task", operation_id="patchTask", tags=["tasks"], responses=RESPONSES)
def update_task(
    user_id: Annotated[UserId, Path()],
    task_id: Annotated[TaskId, Path()],
    changes: Annotated[TaskUpdate, Body()],
) -> Response[str]:
    task = repository.update_task(runtime.database(), user_id, task_id, changes)
    if task is None:
        raise TaskNotFound()
    return json_response(200, task.model_dump_json())


lambda_handler = lambda_entrypoint(app, "UpdateTask")
