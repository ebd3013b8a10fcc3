"""Tools for the teams that deploy and run the Task API (standard library only)."""
