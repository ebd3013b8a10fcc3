"""GET /users/{user_id}/tasks/{task_id}: one of the user's tasks."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path

from tasks_core import repository, runtime
from tasks_core.errors import TaskNotFound
from tasks_core.http import TaskResolver, json_response, openapi_responses
from tasks_core.models import Task, TaskId, UserId
from tasks_core.observability import lambda_entrypoint

app = TaskResolver()


@app.get(
    "/users/<user_id>/tasks/<task_id>",
    summary="Get a task",
    operation_id="getTask",
    tags=["tasks"],
    responses=openapi_responses(200, "The task", Task, errors=(400, 404, 503)),
)
def get_task(user_id: Annotated[UserId, Path()], task_id: Annotated[TaskId, Path()]) -> Response[str]:
    task = repository.get_task(runtime.database(), user_id, task_id)
    if task is None:
        raise TaskNotFound()
    return json_response(200, task.model_dump_json())


lambda_handler = lambda_entrypoint(app, "GetTask")
