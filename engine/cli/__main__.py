"""`python -m engine.cli`: the same as the `govflow` command."""

from engine.cli import main

main()
