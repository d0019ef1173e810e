"""Built-in connectors, one module (or package) each, registered as entry points."""
