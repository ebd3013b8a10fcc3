"""GET /health: the function runs and the database answers."""

from tasks_core import environment, repository
from tasks_core.models import Health
from tasks_core.observability import lambda_entrypoint
from tasks_core.openapi_docs import openapi_responses
from tasks_core.resolver import TaskResolver
from tasks_core.responses import Response, json_response

app = TaskResolver()
HEALTHY = Health(status="ok", database="ok").model_dump_json()


@app.get(
    "/health",
    summary="Health check",
    operation_id="health",
    tags=["health"],
    responses=openapi_responses(200, "The API and its database answer", Health, errors=(503,)),
)
def health() -> Response:
    repository.ping(environment.database())
    return json_response(200, HEALTHY)


lambda_handler = lambda_entrypoint(app, "Health")
