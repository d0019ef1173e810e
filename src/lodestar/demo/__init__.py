"""Demo content: a realistic sample catalog to load into Lodestar."""
