"""The container image tests: the Docker engine and image fixtures live in fixtures.py (shared
with the cluster tier through tests/conftest.py)."""
