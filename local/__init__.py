"""The Docker-free local runtime: `make run` (`python -m local serve`) and `python -m local invoke`.

Three parts, each a package, and what joins them:
- gateway/: the HTTP gateway (API Gateway's HTTP API: routes, payload 2.0 events, CORS, JWT)
- emulator/: the Lambda emulator (worker processes as execution environments, invoke, reload)
- devdb/: the development database (embedded PostgreSQL, migrations, the two roles)
- template.py: template.yaml read as SAM and CloudFormation would (routes, functions, Globals)
- server.py: `serve`, which starts the three; output.py: what the terminal shows
- server_process.py: a server in a child process, started and waited for (tests, benchmarks)
- debian_packages.py: pgbouncer, wrk and chromium installed when missing (tests, benchmarks)
- __main__.py: the command line

Nothing in functions/ or layers/ imports this package.
"""
