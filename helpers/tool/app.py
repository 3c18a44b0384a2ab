"""The demo page: search a collection built by `python -m helpers index` from a browser, or from scripts.

`python -m helpers app --db URI` serves it; `launch()` starts it from a notebook (inline in JupyterLab, with a public
link on Colab). A query is an image (upload, webcam or clipboard, cropped on the page) or, for CLIP collections, a
text. The endpoints `/search_image` and `/search_text` answer `gradio_client`. Only thumbnails of the collection's
images are ever served: no folder is added to Gradio's `allowed_paths`."""

from __future__ import annotations

import contextlib
import io
import sys

from .. import config
from ..encoders import Encoder
from ..errors import EXPECTED_ERRORS
from .extras import require_gradio
from ..images import ImageError, load_rgb
from .launch_lines import UPLOAD_NOTE_JS, no_share_link, port_taken
from .paths import shown_path
from .searcher import ALL, PAGE_TOP_K_LIMIT, Results, Searcher, score_words
from .thumbnails import Thumbnails

require_gradio()  # a missing Gradio, or another major version, is one line naming the command that fixes it
import gradio as gr  # noqa: E402  (after that check)

TOP_K_DEFAULT = 10
MAX_FILE_SIZE = f"{config.MAX_UPLOAD_MB}mb"
SHARE_WARNING = ("Warning: a share link is public. Anyone who has it can search this collection and see its "
                 "images until you stop the app (Ctrl-C).")
NO_IMAGE = ("No image to search with: upload a photo (JPEG, PNG, HEIC, TIFF, WebP and every other format Pillow "
            f"reads, up to {config.MAX_UPLOAD_MB} MB), take one with the webcam or paste one.")
HOW_TO_SEND = ("pass a file uploaded to /gradio_api/upload as {\"path\": ...} (over HTTP, see /gradio_api/info), "
               "or gradio_client.handle_file(path) (from Python).")
MIN_CROP = 8
CSS = """
#query-time {min-height: 1.5em}
#share-warning {color: #b45309; font-weight: 600}
#upload-note {color: #b91c1c; font-weight: 600}
#vector-warning {color: #b45309}
"""


def _named(error: Exception, upload: dict) -> str:
    """The error's message with the upload's temporary path replaced by the file name the user knows."""
    return str(error).replace(upload["path"], upload.get("orig_name") or "the image")


def _caption(hit: dict, score: str) -> str:
    return f"{hit['rank']}. {hit['label']} · {score} {hit['distance']:.3f}"


class _Page(gr.Blocks):
    """Blocks that say in one sentence when an API call sends too few inputs (Gradio's own message lists component
    objects), and show as one line in a notebook."""

    def validate_inputs(self, block_fn, inputs: list) -> None:
        if len(inputs) < len(block_fn.inputs):
            names = ", ".join(block.label or type(block).__name__ for block in block_fn.inputs)
            raise gr.Error(f"/{block_fn.api_name} takes {len(block_fn.inputs)} inputs ({names}) and got "
                           f"{len(inputs)}: send all of them, as /gradio_api/info lists.")
        super().validate_inputs(block_fn, inputs)

    def __repr__(self) -> str:
        """One line (a notebook cell ending in `launch(...)` shows it), not Gradio's list of every component."""
        where = ", ".join(filter(None, [self.local_url, self.share_url])) or "not started"
        return f"Image search page ({self.title}): {where}"


def build(searcher: Searcher, thumbnails: Thumbnails, share: bool = False, full_paths: bool = False) -> gr.Blocks:
    """The page over `searcher`'s collection, with the API endpoints /search_image and /search_text, whose hits
    carry the URL of their thumbnail (in `thumbnails.folder`, which the server must allow) and the image's path
    below the folder `index` was given, else its file name (`full_paths`: the path as stored). With `share`, the
    page warns that its link is public, once the link exists."""
    score, how = score_words(searcher.metric)

    def show(results: Results) -> tuple[list, str]:
        return [(thumbnails.of(hit["filepath"]), _caption(hit, score)) for hit in results.hits], results.status()

    def page_image(image: dict | None, top_k: int, value: str, quiet: bool = False) -> tuple[list, str, str]:
        if not image or not image.get("path"):
            return [], "" if quiet else f"**{NO_IMAGE}**", "image"
        try:
            return *show(searcher.search_image(image["path"], top_k, value)), "image"
        except EXPECTED_ERRORS as error:
            return [], f"**Could not search:** {_named(error, image)}", "image"

    def crop(image: dict | None, corner: list | None, event: gr.SelectData) -> tuple:
        """A click on the query image marks a corner; a second click crops to the box and searches with that."""
        if not image or not image.get("path"):
            return gr.skip(), None, gr.skip()
        x, y = event.index
        if not corner:
            return gr.skip(), [x, y], f"Cropping: corner at ({x}, {y}). Click the opposite corner."
        (left, right), (top, bottom) = sorted((corner[0], x)), sorted((corner[1], y))
        if right - left < MIN_CROP or bottom - top < MIN_CROP:
            return gr.skip(), None, f"Cropping: the corners are less than {MIN_CROP} pixels apart; click two again."
        try:
            return load_rgb(image["path"]).crop((left, top, right + 1, bottom + 1)), None, ""
        except ImageError as error:
            return gr.skip(), None, f"**Could not crop:** {_named(error, image)}"

    def page_text(text: str, top_k: int, value: str) -> tuple[list, str, str]:
        try:
            return *show(searcher.search_text(text, top_k, value)), "text"
        except EXPECTED_ERRORS as error:
            return [], f"**Could not search:** {error}", "text"

    def again(mode: str, image: dict | None, text: str, top_k: int, value: str) -> tuple[list, str, str]:
        if mode == "text":
            return page_text(text, top_k, value)
        if mode == "image":
            return page_image(image, top_k, value)
        return [], "", mode

    def with_thumbnails(hits: list[dict], request: gr.Request) -> list[dict]:
        root = str(request.base_url).rstrip("/")
        return [{**hit, "filepath": hit["filepath"] if full_paths else shown_path(hit["filepath"], searcher.folders),
                 "thumbnail": f"{root}/gradio_api/file={thumbnails.of(hit['filepath'])}"} for hit in hits]

    def api_image(image: dict | None, top_k: float, value: str, request: gr.Request) -> list[dict]:
        """Search with an image file; returns the hits, best first, each with the URL of its thumbnail."""
        if not image or not image.get("path"):
            raise gr.Error(f"No image: {HOW_TO_SEND}")
        if not gr.utils.is_in_or_equal(image["path"], gr.utils.get_upload_folder()):  # only what a caller sent
            raise gr.Error(f"{image['path']} was never uploaded here: {HOW_TO_SEND}")
        try:
            return with_thumbnails(searcher.search_image(image["path"], top_k, value).hits, request)
        except EXPECTED_ERRORS as error:
            raise gr.Error(_named(error, image)) from None

    def api_text(text: str, top_k: float, value: str, request: gr.Request) -> list[dict]:
        """Search with a text (CLIP collections); returns the hits, best first, each with the URL of its thumbnail."""
        try:
            return with_thumbnails(searcher.search_text(text, top_k, value).hits, request)
        except EXPECTED_ERRORS as error:
            raise gr.Error(str(error)) from None

    with _Page(title=f"Image search: {searcher.collection}") as page:
        gr.Markdown(f"## Image search with Milvus\n{searcher.describe()}")
        if searcher.warning:
            gr.Markdown(searcher.warning, elem_id="vector-warning")
        if config.is_offline():
            gr.Markdown(config.OFFLINE_NOTICE)
        if share:  # shown once the link exists: Gradio may fail to make one (no internet, a blocked tunnel)
            warning = gr.Markdown(SHARE_WARNING, elem_id="share-warning", visible=False)
            page.load(lambda: gr.update(visible=bool(page.share_url)), None, warning, api_visibility="private")
        mode, corner = gr.State(""), gr.State(None)
        with gr.Row():
            with gr.Column(scale=1, min_width=340):
                query = gr.Image(label="Query image (click two corners to crop)",
                                 type="filepath", sources=["upload", "webcam", "clipboard"], format="png", height=360,
                                 elem_id="query-image")
                gr.Markdown(elem_id="upload-note")  # UPLOAD_NOTE_JS writes here; the server never does
                image_button = gr.Button("Search with the image", variant="primary", elem_id="search-image")
                with gr.Row(visible=searcher.takes_text):
                    text = gr.Textbox(label="or describe it", placeholder="a white dog", scale=3,
                                      elem_id="query-text")
                    text_button = gr.Button("Search", scale=1, min_width=80, elem_id="search-text")
                top_k = gr.Slider(1, PAGE_TOP_K_LIMIT, value=TOP_K_DEFAULT, step=1, label="Results (top k)",
                                  elem_id="top-k")
                choices = [ALL, *searcher.filter_values]
                value = gr.Dropdown(choices, value=ALL, label=f"Only this {searcher.filter_field}",
                                    visible=bool(searcher.filter_values), elem_id="filter")
            with gr.Column(scale=2):
                status = gr.Markdown(elem_id="query-time")
                gallery = gr.Gallery(label=f"Results: rank, label (class folder), {score} ({how})", columns=4,
                                     height=600,
                                     object_fit="cover", elem_id="results")
        outputs = [gallery, status, mode]
        # preprocess=False: the page gets the uploaded file's path (Gradio checks it is an upload) and load_rgb
        # says what is wrong with a bad file; the query's pixels stay exactly those of the file.
        common = dict(concurrency_id="search", api_visibility="private", preprocess=False)
        image_button.click(page_image, [query, top_k, value], outputs, **common)
        query.change(lambda image, k, v: page_image(image, k, v, quiet=True), [query, top_k, value], outputs,
                     **common)  # after an upload, a webcam shot, a paste, a crop, or the image cleared
        # A second corner clicked while the first is still being answered must reach crop: no progress overlay
        # over the image to catch the click, and "multiple" queues it (a select's default drops it); queued, it
        # reads the corner the first click stored.
        query.select(crop, [query, corner], [query, corner, status], api_visibility="private", preprocess=False,
                     show_progress="hidden", trigger_mode="multiple")
        text_button.click(page_text, [text, top_k, value], outputs, **common)
        text.submit(page_text, [text, top_k, value], outputs, **common)
        top_k.release(again, [mode, query, text, top_k, value], outputs, **common)
        value.change(again, [mode, query, text, top_k, value], outputs, **common)

        with gr.Group(visible=False):  # the endpoints scripts call; preprocess=False: load_rgb says what is wrong
            api_file = gr.Image(type="filepath", label="image")
            api_query = gr.Textbox(label="text")
            # No default values: /gradio_api/info then says that all three are required, as they are over HTTP.
            api_top_k = gr.Number(None, precision=0, label="top_k")
            api_value = gr.Textbox(None, label="filter_value")
            api_hits = gr.JSON(label="hits")
            gr.Button().click(api_image, [api_file, api_top_k, api_value], api_hits, api_name="search_image",
                              preprocess=False, concurrency_id="search")
            gr.Button().click(api_text, [api_query, api_top_k, api_value], api_hits, api_name="search_text",
                              concurrency_id="search")
    return page


def launch(uri: str | None = None, collection: str = "images", *, token: str | None = None, host: str = "127.0.0.1",
           port: int | None = None, share: bool | None = None, precision: str | None = None,
           encoder: Encoder | None = None, model: str | None = None, block: bool = False,
           full_paths: bool = False) -> gr.Blocks:
    """Start the page for `collection`: inline in JupyterLab, with a public link on Colab (Gradio's defaults; in
    offline mode none, which a line says), bound to `host`. A notebook passes its `encoder` to
    load no second copy. With `block=True` it serves until Ctrl-C, as `python -m helpers app` does. `model` names
    the model that built a collection that records none (made elsewhere). `full_paths`: the API's hits carry the
    images' paths as stored, not below the indexed folder. A port that is taken raises `InputError`."""
    searcher = Searcher(uri or config.milvus_uri(), collection, token=token, precision=precision, encoder=encoder,
                        model=model)
    if searcher.warning:
        print(searcher.warning, file=sys.stderr)
    wanted = share if share is not None else config.in_colab()
    shared = wanted and not config.is_offline()  # offline mode asks the network for nothing, a share link included
    thumbnails = Thumbnails()
    page = build(searcher, thumbnails, share=shared, full_paths=full_paths)
    page.queue(default_concurrency_limit=1)
    gradio_said = io.StringIO()  # Gradio's own lines name launch()'s arguments, not ours: we say it ourselves
    try:
        with contextlib.redirect_stdout(gradio_said):
            # show_error: an API caller gets the sentence of every error (over HTTP too), not only of a gr.Error.
            page.launch(server_name=host, server_port=port, share=shared, max_file_size=MAX_FILE_SIZE,
                        allowed_paths=[thumbnails.folder], show_error=True, prevent_thread_lock=True, css=CSS,
                        js=UPLOAD_NOTE_JS, footer_links=["api"], run_history=False, quiet=True)
    except OSError as error:
        if "Cannot find empty port" in str(error):
            raise port_taken(host, port) from None
        raise
    print(f"* Running on local URL:  {page.local_url}")
    if page.share_url:
        print(f"* Running on public URL: {page.share_url}")
        print(SHARE_WARNING, file=sys.stderr)
    elif shared:
        print(no_share_link(gradio_said.getvalue(), page.local_url), file=sys.stderr)
    elif wanted:
        print(f"No public link in offline mode ({config.OFFLINE_ENV}=1): the page is served at {page.local_url} only.",
              file=sys.stderr)
    if block:
        page.block_thread()
    return page
