"""The errors helpers raise on purpose, each with a message that says what was wrong and what to do. The command
line, the widgets and the demo page show these as one line; any other exception is a bug and keeps its traceback.
"""


class InputError(ValueError):
    """Something a person gave (a folder, a text, a number, a name) that cannot be used as it is."""


class CollectionError(RuntimeError):
    """A Milvus problem explained in words: what is wrong and what to do."""


class DownloadError(RuntimeError):
    """A dataset or model weights could not be downloaded, verified or extracted; the message says how to fix it."""

    def _render_traceback_(self) -> list[str]:
        """What IPython shows for it in a notebook: the message alone, as the command line does, no traceback."""
        return [f"DownloadError: {self}"]


EXPECTED_ERRORS = (InputError, CollectionError, DownloadError)  # raised on purpose (ImageError is an InputError)
EMPTY_TEXT = "Empty text query: type a few words that describe the image you want."


def require_text(text: object) -> str:
    """The text of a text query; an `InputError` for no text or only spaces."""
    if not isinstance(text, str) or not text.strip():
        raise InputError(EMPTY_TEXT)
    return text


def rebuild_command(collection: str, model: str | None = None) -> str:
    """The command that replaces every row of `collection` (with `model`'s vectors), and what it does, for advice."""
    chosen = f" --model {model}" if model else ""
    return (f"`python -m helpers index FOLDER --collection {collection}{chosen} --recreate` (writes new rows for the "
            "images in FOLDER, then deletes the old ones)")


def milvus_says(error) -> str:
    """How a refused Milvus request (`pymilvus.MilvusException`) is told to a person, in one line."""
    return f"Milvus says {error.message} (code {error.code})"
