"""Small front ends for the notebooks: search with an uploaded image or a typed text. Each calls back with a PIL
image or a string and shows the figure it returns, or one line saying why it could not search. The upload
button is ipywidgets' (JupyterLab); on Colab, whose kernel gets nothing from that button for files of 1 MB or
more, `colab_upload` opens Colab's own dialog.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from contextlib import redirect_stderr

import ipywidgets as widgets
import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from PIL import Image
from pymilvus import MilvusException

from . import config
from .errors import EXPECTED_ERRORS, milvus_says
from .images import ImageError, load_rgb

Handler = Callable[[object], Figure | None]


def _run(output: widgets.Output, handler: Handler, value: object) -> None:
    """Call the handler and show its figure, or the reason it failed, in `output`, with any note it printed: set
    on the widget's outputs directly, not captured `with output:`, the same in JupyterLab, Colab and a script."""
    output.outputs = ()
    pymilvus_log = logging.getLogger("pymilvus")
    level = pymilvus_log.level
    notes = io.StringIO()
    pymilvus_log.setLevel(logging.CRITICAL)  # it would log the traceback of a failed call; one line says it
    try:
        with redirect_stderr(notes):
            figure = handler(value)
    except MilvusException as error:  # a dropped collection, a closed client, a server that went away
        output.append_stdout(f"Could not search: {milvus_says(error)}.\n")
        return
    except EXPECTED_ERRORS as error:
        output.append_stdout(f"Could not search: {error}\n")
        return
    finally:
        pymilvus_log.setLevel(level)
        if notes.getvalue():
            output.append_stderr(notes.getvalue())
    if figure is not None:
        output.append_display_data(figure)
        plt.close(figure)


def decode_upload(content: bytes) -> Image.Image:
    """Decode the bytes of an uploaded file to an upright RGB image, or raise `ImageError` saying what to do
    when it is empty, too large (over `config.MAX_UPLOAD_MB`) or not an image."""
    if not content:
        raise ImageError("the upload arrived empty. Upload the file again, or set MY_IMAGE to its path "
                         "and run the cell.")
    if len(content) > config.MAX_UPLOAD_MB * 1024 * 1024:
        raise ImageError(f"the file has {len(content) / 1024 / 1024:.1f} MB, over the limit of {config.MAX_UPLOAD_MB} "
                         "MB. Upload a smaller copy, or set MY_IMAGE to its path and run the cell.")
    try:
        with Image.open(io.BytesIO(content)) as image:
            image.load()
            return load_rgb(image)
    except (OSError, SyntaxError, ValueError) as error:
        raise ImageError(f"the uploaded file is not an image Pillow can read ({error})") from None


def image_upload(on_image: Callable[[Image.Image], Figure | None]) -> widgets.VBox:
    """A file-upload button; each uploaded image is passed to `on_image` and its figure shown below."""
    upload = widgets.FileUpload(accept="image/*", multiple=False, description="Upload image")
    output = widgets.Output()

    def changed(change: dict) -> None:
        if change["new"]:
            _run(output, lambda content: on_image(decode_upload(content)), bytes(change["new"][0]["content"]))

    upload.observe(changed, names="value")
    return widgets.VBox([upload, output])


def colab_upload(on_image: Callable[[Image.Image], Figure | None]) -> widgets.Output:
    """Colab's own upload dialog, `google.colab.files.upload()`, which takes files of any size: the first file
    chosen goes to `on_image`, and its figure (or why it could not search, also when the dialog was cancelled) is
    shown in the returned output area. Run the cell again for another."""
    from google.colab import files

    uploaded = files.upload()  # {file name: its bytes}, empty when cancelled
    output = widgets.Output()
    _run(output, lambda content: on_image(decode_upload(content)), next(iter(uploaded.values()), b""))
    return output


def text_search_box(on_text: Callable[[str], Figure | None], placeholder: str = "a white dog") -> widgets.VBox:
    """A text box; pressing Enter (or the button) passes the text to `on_text` and shows its figure."""
    box = widgets.Text(placeholder=placeholder, description="Search:", continuous_update=False)
    button = widgets.Button(description="Search", icon="search")
    output = widgets.Output()
    button.on_click(lambda _: _run(output, on_text, box.value))
    box.observe(lambda change: _run(output, on_text, change["new"]), names="value")
    return widgets.VBox([widgets.HBox([box, button]), output])
