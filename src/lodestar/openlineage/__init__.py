"""OpenLineage intake: run, job and dataset events -> pipelines, runs, datasets, lineage and
quality observations in the catalog (see service.py)."""
