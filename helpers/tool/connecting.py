"""The command line's and the demo page's way into Milvus: a Lite file path, a server URI, or Zilliz Cloud with a
token, with each failure a person can fix turned into a sentence that says what to do; and the way out that
lets another process open a Lite file is the learner's `connection.disconnect`.
"""

from __future__ import annotations

import logging
from pathlib import Path

from pymilvus import MilvusClient, MilvusException
from pymilvus.exceptions import ConnectionConfigException

from .. import config
from ..connection import connection_options, is_server
from ..errors import CollectionError


def connect(uri: str | None = None, token: str | None = None, timeout: float = 10.0,
            create: bool = True) -> MilvusClient:
    """A `MilvusClient` for a Lite file path, a server URI, or Zilliz Cloud with a token (defaults from
    MILVUS_URI/TOKEN), with each failure a person can fix turned into a `CollectionError` that says what to do.
    `create=False` (for what only reads, as searching does) refuses a Lite file that does not exist yet
    instead of creating an empty one."""
    uri = uri or config.milvus_uri()
    token = config.milvus_token() if token is None else token
    if is_server(uri):
        try:
            return MilvusClient(uri=uri, token=token, timeout=timeout, **connection_options(uri))
        except MilvusException as error:
            raise CollectionError(
                f"{no_answer(uri, timeout, error)}. Start it, check "
                f"the address and token, or unset {config.URI_ENV} to use a local Milvus Lite file."
            ) from None
    path = Path(uri).expanduser()
    if path.suffix != ".db":
        raise CollectionError(
            f"'{uri}' is neither a server URI (http://host:19530) nor a Milvus Lite file name: Lite file names end "
            f"in .db, e.g. {path.with_name(path.name + '.db')}."
        )
    if not create and not path.exists():
        raise CollectionError(f"There is no Milvus Lite file at {path}. Check the name, or index a folder into it "
                              f"first: `python -m helpers index FOLDER --db {uri}`.")
    if path.is_file():
        raise CollectionError(
            f"{path} is a single file, probably written by Milvus Lite 2 (milvus-lite<3); Milvus Lite 3 keeps a "
            "folder under that name. Move the file away or pass another .db name, then index the images again."
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise CollectionError(f"Cannot create the folder for the Milvus Lite file {path}: {error}.") from None
    lite_logger = logging.getLogger("milvus_lite")
    saved = lite_logger.level, lite_logger.propagate
    causes = _ExceptionCatcher()
    lite_logger.setLevel(logging.ERROR)
    lite_logger.propagate = False  # its start-up traceback is turned into the sentence below instead
    lite_logger.addHandler(causes)
    try:
        return MilvusClient(uri=str(path), **connection_options(str(path)))
    except ConnectionConfigException as error:
        if any(type(cause).__name__ == "DataDirLockedError" for cause in causes.exceptions):
            raise CollectionError(
                f"The Milvus Lite file {path} is already open in another process (another notebook kernel or a "
                "running `python -m helpers`). Stop that kernel or process (Kernel > Shut Down Kernel), or pass "
                "another file name as uri."
            ) from None
        reason = "; ".join(str(cause) for cause in causes.exceptions) or error.message
        raise CollectionError(f"Milvus Lite could not open {path} ({reason}). Pass another .db name as uri.") from None
    finally:
        lite_logger.removeHandler(causes)
        lite_logger.setLevel(saved[0])
        lite_logger.propagate = saved[1]


def no_answer(uri: str, seconds: float, error) -> str:
    """The start of the sentence for a Milvus server that did not answer (`error`, a `MilvusException`) in time."""
    return f"Milvus at {uri} did not answer within {seconds:g} s ({error.message})"


class _ExceptionCatcher(logging.Handler):
    """Keeps the exceptions Milvus Lite logs while it starts, to say why it could not open a file."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.exceptions: list[BaseException] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.exc_info[1] is not None:
            self.exceptions.append(record.exc_info[1])
