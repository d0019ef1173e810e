"""One module per asset kind; each registers its KindSpec on import."""
