"""The tool's room: the command line (`python -m helpers`, `image-search`), the demo page and what only they need.

The notebooks never import this subpackage; it imports the learner's modules in `helpers` and builds on them.
"""
