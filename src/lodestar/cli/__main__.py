"""`python -m lodestar.cli`."""

from lodestar.cli.main import main

main()
