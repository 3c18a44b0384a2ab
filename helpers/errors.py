"""The errors helpers raise on purpose, each with a message that says what was wrong and what to do.

The command line, the widgets and the demo page show these as one line; any other exception is a bug
and keeps its traceback.
"""


class InputError(ValueError):
    """Something a person gave (a folder, a text, a number, a name) that cannot be used as it is."""


class CollectionError(RuntimeError):
    """A Milvus problem explained in words: what is wrong and what to do."""
