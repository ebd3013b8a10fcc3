"""DELETE /users/{user_id}/tasks/{task_id}: delete one of the user's tasks."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path

from tasks_core import repository, runtime
from tasks_core.errors import TaskNotFound
from tasks_core.http import TaskResolver, json_response, openapi_responses
from tasks_core.models import Message, TaskId, UserId
from tasks_core.observability import lambda_entrypoint

app = TaskResolver()
DELETED = Message(message="Task deleted successfully").model_dump_json()


@app.delete(
    "/users/<user_id>/tasks/<task_id>",
    summary="Delete a task",
    operation_id="deleteTask",
    tags=["tasks"],
    responses=openapi_responses(200, "The task was deleted", Message, errors=(400, 404, 503)),
)
def delete_task(user_id: Annotated[UserId, Path()], task_id: Annotated[TaskId, Path()]) -> Response[str]:
    if not repository.delete_task(runtime.database(), user_id, task_id):
        raise TaskNotFound()
    return json_response(200, DELETED)


lambda_handler = lambda_entrypoint(app, "DeleteTask")
