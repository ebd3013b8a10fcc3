"""POST /users/{user_id}/tasks: create a task."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path

from tasks_core import repository, runtime
from tasks_core.http import TaskResolver, json_response, openapi_responses, user_path
from tasks_core.models import Task, TaskCreate, UserId
from tasks_core.observability import lambda_entrypoint

app = TaskResolver()


@app.post(
    "/users/<user_id>/tasks",
    summary="Create a task",
    operation_id="createTask",
    tags=["tasks"],
    responses=openapi_responses(
        201, "The created task", Task, errors=(400, 413, 503), headers={"Location": "Path of the new task"}
    ),
)
def create_task(user_id: Annotated[UserId, Path()], task: Annotated[TaskCreate, Body()]) -> Response[str]:
    created = repository.create_task(runtime.database(), user_id, task)
    return json_response(201, created.model_dump_json(), {"Location": f"{user_path(user_id)}/{created.id}"})


lambda_handler = lambda_entrypoint(app, "CreateTask")
