"""Benchmarks of the Task API against the FastAPI lambdalith and the PostgreSQL floor (`make bench`)."""
