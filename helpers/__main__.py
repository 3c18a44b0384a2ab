"""`python -m helpers`: the command-line interface."""

from .tool.cli import main

raise SystemExit(main())
