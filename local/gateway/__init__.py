"""The HTTP gateway: what API Gateway's HTTP API does in front of the functions.

- http_server: uvicorn (httptools) connections in the runtime's own event loop, with timeouts
- asgi: the gateway as an ASGI application (HTTP framing, limits, API Gateway's own answers)
- dispatch: a request to its route and function, CORS, the JWT authorizer, the response
- payload: payload format 2.0, requests into events and results into responses
- cors, jwt_auth: the template's CorsConfiguration and JWT authorizer
- docs, openapi: /openapi.json and Swagger UI at /docs
"""
