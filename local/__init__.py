"""The Docker-free local runtime: template reading, payload 2.0 events, invoke, dev database.

Functions and the layer never import this package.
"""
