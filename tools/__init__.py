"""Deployment tools for infra teams: parameter files from samconfig.toml, packaging for CloudFormation."""
