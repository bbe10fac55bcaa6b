"""Pipeline stages, one folder each: `core.py` holds the logic, `component.py` the KFP wrapper."""
