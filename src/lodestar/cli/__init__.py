"""The terminal adapter: the `lodestar` command (Typer). It never touches SQL itself."""
