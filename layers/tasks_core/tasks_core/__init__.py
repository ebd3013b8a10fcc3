"""Shared core of the Task API functions: models, errors, settings, data access."""
