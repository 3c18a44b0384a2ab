"""The tool's room: the command line (`python -m helpers`, `image-search`), the demo page and what only they need.

The lessons never import this subpackage (only notebook 01's quick-deploy cell imports `helpers.tool.app`); it
imports the learner's modules in `helpers` and builds on them.
"""
