"""`python -m helpers`: the command-line interface."""

from .cli import main

raise SystemExit(main())
