"""The demo page: search a collection built by `python -m helpers index` from a browser, or from scripts.

`python -m helpers app --db URI` serves it; `launch()` starts it from a notebook (inline in JupyterLab,
with a public link on Colab). A query is an image (upload, webcam or clipboard, cropped on the page) or,
for CLIP collections, a text. The endpoints `/search_image` and `/search_text` answer `gradio_client`.
Only thumbnails of the collection's images are ever served: no folder is added to Gradio's `allowed_paths`.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import numpy as np
from PIL import Image
from pymilvus import DataType, MilvusClient, MilvusException

from . import config
from .collection import collection_model, connect, count, query_model, require_collection, search
from .encoders import Encoder, load_encoder
from .errors import CollectionError, InputError
from .images import ImageError, load_rgb
from .results import PATH_FIELDS, hit_path, label_of

TOP_K_DEFAULT = 10
TOP_K_MAX = 100
MAX_FILE_SIZE = "10mb"
THUMBNAIL_SIDE = 320
IVF_NPROBE = 128  # notebook 02's value; Milvus caps it at the index's nlist
MAX_FILTER_VALUES = 1000  # a scalar field with more distinct values gets no filter menu
ALL = "(all)"
SHARE_WARNING = ("Warning: a share link is public. Anyone who has it can search this collection and see its "
                 "images until you stop the app (Ctrl-C).")
NO_IMAGE = "No image to search with: upload a photo (JPEG, PNG, WebP, GIF or BMP), take one with the webcam or paste one."
MIN_CROP = 8
MILVUS_WAIT_S = 6  # how long a search waits for a Milvus server that does not answer
EXPECTED_ERRORS = (InputError, CollectionError)  # raised on purpose (ImageError is an InputError); others are bugs
CSS = """
#query-time {min-height: 1.5em}
#share-warning {color: #b45309; font-weight: 600}
"""


def _filter_field(client: MilvusClient, collection: str) -> str | None:
    """The first VARCHAR field of the schema besides the image path (e.g. `painter`), if there is one."""
    fields = client.describe_collection(collection)["fields"]
    return next((f["name"] for f in fields if f["type"] == DataType.VARCHAR and f["name"] not in PATH_FIELDS
                 and not f.get("is_primary")), None)


def _distinct(client: MilvusClient, collection: str, field: str) -> list[str]:
    """The distinct values of a scalar field, sorted; empty when there are more than MAX_FILTER_VALUES."""
    values: set[str] = set()
    iterator = client.query_iterator(collection, batch_size=1000, filter="", output_fields=[field])
    while (batch := iterator.next()) and len(values) <= MAX_FILTER_VALUES:
        values.update(str(row[field]) for row in batch if row.get(field) is not None)
    iterator.close()
    return sorted(values) if len(values) <= MAX_FILTER_VALUES else []


def _search_params(client: MilvusClient, collection: str) -> dict | None:
    """Search parameters for the collection's index: IVF indexes search IVF_NPROBE lists, not Milvus's default 8,
    which misses neighbours (more so behind a filter)."""
    for index in client.list_indexes(collection):
        if str(client.describe_index(collection, index).get("index_type", "")).startswith("IVF"):
            return {"params": {"nprobe": IVF_NPROBE}}
    return None


@dataclass
class Results:
    """The hits of one query (rank, filepath, label, distance and scalar fields) and where the time went."""

    hits: list[dict]
    embed_ms: float
    search_ms: float

    def status(self) -> str:
        """One line for the page: how many results and the search time."""
        return (f"{len(self.hits)} results in {self.embed_ms + self.search_ms:.0f} ms "
                f"(embedding {self.embed_ms:.0f} ms, Milvus {self.search_ms:.0f} ms)")


class Searcher:
    """One collection and the encoder of its model: turns an image or a text into ranked hits."""

    def __init__(self, uri: str, collection: str, token: str | None = None, precision: str | None = None,
                 encoder: Encoder | None = None) -> None:
        self.uri, self.collection = uri, collection
        self.client = connect(uri, token)
        require_collection(self.client, collection)
        self.model = query_model(self.client, collection)
        self.recorded = collection_model(self.client, collection)
        self.filter_field = _filter_field(self.client, collection)
        self.filter_values = _distinct(self.client, collection, self.filter_field) if self.filter_field else []
        self.count = count(self.client, collection)
        self.search_params = _search_params(self.client, collection)
        if encoder is not None and encoder.model_id != self.recorded:
            raise CollectionError(f"Collection '{collection}' was built by {self.recorded}, not by this encoder "
                                  f"({encoder.model_id}): pass its encoder, or none to load the right one.")
        self.encoder = encoder or load_encoder(self.model, precision=precision)

    @property
    def takes_text(self) -> bool:
        """True when the collection's model also embeds text (CLIP)."""
        return self.encoder.text_model is not None

    def describe(self) -> str:
        """What the page searches, in one line."""
        return (f"Collection **{self.collection}**: {self.count} images, model {self.recorded}, "
                f"{self.encoder.dim}-d vectors, Milvus at `{self.uri}`")

    def search_image(self, image: Image.Image | str | os.PathLike, top_k: int, value: str = "") -> Results:
        """Hits for an image (a PIL image or a file); a file that is no usable image raises `ImageError`."""
        start = time.perf_counter()
        vector = self.encoder.embed_image(load_rgb(image))
        return self._search(vector, top_k, value, time.perf_counter() - start)

    def search_text(self, text: str, top_k: int, value: str = "") -> Results:
        """Hits for a text (CLIP collections only); an empty text raises `InputError`."""
        if not self.takes_text:
            raise CollectionError(f"Collection '{self.collection}' holds {self.model} image vectors, which cannot "
                                  "be searched with text. Index the folder with --model clip for text queries.")
        if not isinstance(text, str) or not text.strip():
            raise InputError("Empty text query: type a few words that describe the image you want.")
        start = time.perf_counter()
        vector = self.encoder.embed_text(text)
        return self._search(vector, top_k, value, time.perf_counter() - start)

    def _search(self, vector: np.ndarray, top_k: int, value: str, embed_s: float) -> Results:
        if not isinstance(top_k, (int, float)) or not 1 <= top_k <= TOP_K_MAX:
            raise InputError(f"top_k must be between 1 and {TOP_K_MAX}, got {top_k}.")
        top_k = int(top_k)
        start = time.perf_counter()
        while True:  # a server that was away answers again once pymilvus has reconnected, within a second or two
            try:
                hits = self._hits(vector, top_k, value)
                break
            except MilvusException as error:
                problem, answering = self._explain(error)
                if answering or time.perf_counter() - start > MILVUS_WAIT_S:
                    raise problem from None
                time.sleep(0.5)
        search_s = time.perf_counter() - start
        rows = [self._row(rank, hit) for rank, hit in enumerate(hits, 1)]
        return Results(rows, embed_s * 1000, search_s * 1000)

    def _hits(self, vector: np.ndarray, top_k: int, value: str) -> list[dict]:
        if collection_model(self.client, self.collection) != self.recorded:
            raise CollectionError(f"Collection '{self.collection}' was rebuilt with another model since the app "
                                  "started. Restart the app to search it.")
        fields = [*PATH_FIELDS, *([self.filter_field] if self.filter_field else [])]
        return search(self.client, self.collection, vector, top_k=top_k, filter=self._filter(value),
                      output_fields=fields, search_params=self.search_params,
                      consistency_level="Strong")  # the rows were inserted by another process

    def _explain(self, error: MilvusException) -> tuple[CollectionError, bool]:
        """Why a search failed (the collection is gone, Milvus does not answer, or what Milvus said), and
        whether Milvus answers."""
        try:
            require_collection(self.client, self.collection)
        except CollectionError as missing:
            return missing, True
        except MilvusException:
            return CollectionError(f"Milvus at {self.uri} did not answer within {MILVUS_WAIT_S} s ({error.message}). "
                                   "Search again when it is back."), False
        return CollectionError(f"Milvus could not search collection '{self.collection}': {error.message}"), True

    def _filter(self, value: str) -> str:
        if not value or value == ALL:
            return ""
        if not self.filter_field:
            raise InputError(f"Collection '{self.collection}' has no field to filter on.")
        return f"{self.filter_field} == {json.dumps(str(value), ensure_ascii=False)}"

    def _row(self, rank: int, hit: dict) -> dict:
        """A hit as the API returns it; the key is `filepath`, since gradio_client downloads any `path`."""
        path = hit_path(hit)
        row = {"rank": rank, "filepath": path, "label": label_of(path), "distance": float(hit["distance"])}
        if self.filter_field:
            row[self.filter_field] = hit["entity"].get(self.filter_field)
        return row


class Thumbnails:
    """Small JPEG copies of the collection's images in a private temporary folder: the only files the
    page shows, made once per image."""

    def __init__(self) -> None:
        self._folder = tempfile.TemporaryDirectory(prefix="image-search-app-")
        self._made: dict[str, str] = {}

    def of(self, path: str) -> str:
        """The thumbnail of the image at `path`; a grey square when it cannot be read any more."""
        if path in self._made:
            return self._made[path]
        target = Path(self._folder.name) / f"{hashlib.sha256(path.encode()).hexdigest()[:32]}.jpg"
        try:
            image = load_rgb(path)
        except ImageError:
            image = Image.new("RGB", (THUMBNAIL_SIDE, THUMBNAIL_SIDE), (200, 200, 200))
        image.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
        partial = target.with_suffix(f".{threading.get_ident()}.part")  # two searches may show the same image
        image.save(partial, "JPEG", quality=85)
        partial.replace(target)
        self._made[path] = str(target)
        return str(target)


def _named(error: Exception, upload: dict) -> str:
    """The error's message with the upload's temporary path replaced by the file name the user knows."""
    return str(error).replace(upload["path"], upload.get("orig_name") or "the image")


def _caption(hit: dict) -> str:
    return f"{hit['rank']}. {hit['label']} · {hit['distance']:.3f}"


def build(searcher: Searcher, share: bool = False) -> gr.Blocks:
    """The page over `searcher`'s collection, with the API endpoints /search_image and /search_text."""
    thumbnails = Thumbnails()

    def show(results: Results) -> tuple[list, str]:
        return [(thumbnails.of(hit["filepath"]), _caption(hit)) for hit in results.hits], results.status()

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

    def api_image(image: dict | None, top_k: float, value: str) -> list[dict]:
        """Search with an image file; returns the hits, best first."""
        if not image or not image.get("path"):
            raise gr.Error("No image: pass one with gradio_client.handle_file(path).")
        try:
            return searcher.search_image(image["path"], top_k, value).hits
        except EXPECTED_ERRORS as error:
            raise gr.Error(_named(error, image)) from None

    def api_text(text: str, top_k: float, value: str) -> list[dict]:
        """Search with a text (CLIP collections); returns the hits, best first."""
        try:
            return searcher.search_text(text, top_k, value).hits
        except EXPECTED_ERRORS as error:
            raise gr.Error(str(error)) from None

    with gr.Blocks(title=f"Image search: {searcher.collection}") as page:
        gr.Markdown(f"## Image search with Milvus\n{searcher.describe()}")
        if config.is_offline():
            gr.Markdown(config.OFFLINE_NOTICE)
        if share:
            gr.Markdown(SHARE_WARNING, elem_id="share-warning")
        mode, corner = gr.State(""), gr.State(None)
        with gr.Row():
            with gr.Column(scale=1, min_width=340):
                query = gr.Image(label="Query image (click two corners to crop)",
                                 type="filepath", sources=["upload", "webcam", "clipboard"], format="png", height=360,
                                 elem_id="query-image")
                image_button = gr.Button("Search with the image", variant="primary", elem_id="search-image")
                with gr.Row(visible=searcher.takes_text):
                    text = gr.Textbox(label="or describe it", placeholder="a white dog", scale=3,
                                      elem_id="query-text")
                    text_button = gr.Button("Search", scale=1, min_width=80, elem_id="search-text")
                top_k = gr.Slider(1, TOP_K_MAX, value=TOP_K_DEFAULT, step=1, label="Results (top k)",
                                  elem_id="top-k")
                choices = [ALL, *searcher.filter_values]
                value = gr.Dropdown(choices, value=ALL, label=f"Only this {searcher.filter_field}",
                                    visible=bool(searcher.filter_values), elem_id="filter")
            with gr.Column(scale=2):
                status = gr.Markdown(elem_id="query-time")
                gallery = gr.Gallery(label="Results: rank, label (class folder), distance", columns=4, height=600,
                                     object_fit="cover", elem_id="results")
        outputs = [gallery, status, mode]
        # preprocess=False: the page gets the uploaded file's path (Gradio checks it is an upload) and load_rgb
        # says what is wrong with a bad file; the query's pixels stay exactly those of the file.
        common = dict(concurrency_id="search", api_visibility="private", preprocess=False)
        image_button.click(page_image, [query, top_k, value], outputs, **common)
        query.change(lambda image, k, v: page_image(image, k, v, quiet=True), [query, top_k, value], outputs,
                     **common)  # after an upload, a webcam shot, a paste, a crop, or the image cleared
        query.select(crop, [query, corner], [query, corner, status], api_visibility="private", preprocess=False)
        text_button.click(page_text, [text, top_k, value], outputs, **common)
        text.submit(page_text, [text, top_k, value], outputs, **common)
        top_k.release(again, [mode, query, text, top_k, value], outputs, **common)
        value.change(again, [mode, query, text, top_k, value], outputs, **common)

        with gr.Group(visible=False):  # the endpoints scripts call; preprocess=False: load_rgb says what is wrong
            api_file = gr.Image(type="filepath", label="image")
            api_query = gr.Textbox(label="text")
            api_top_k = gr.Number(TOP_K_DEFAULT, precision=0, label="top_k")
            api_value = gr.Textbox("", label="filter_value")
            api_hits = gr.JSON(label="hits")
            gr.Button().click(api_image, [api_file, api_top_k, api_value], api_hits, api_name="search_image",
                              preprocess=False, concurrency_id="search")
            gr.Button().click(api_text, [api_query, api_top_k, api_value], api_hits, api_name="search_text",
                              concurrency_id="search")
    return page


def launch(uri: str | None = None, collection: str = "images", *, token: str | None = None, host: str = "127.0.0.1",
           port: int | None = None, share: bool | None = None, precision: str | None = None,
           encoder: Encoder | None = None, block: bool = False) -> gr.Blocks:
    """Start the page for `collection`: inline in JupyterLab, with a public link on Colab (Gradio's defaults),
    bound to `host`. A notebook passes its `encoder` to load no second copy. With `block=True` it serves
    until Ctrl-C, as `python -m helpers app` does."""
    searcher = Searcher(uri or config.milvus_uri(), collection, token=token, precision=precision, encoder=encoder)
    shared = share if share is not None else _in_colab()
    if shared:
        print(SHARE_WARNING, file=sys.stderr)
    page = build(searcher, share=shared)
    page.queue(default_concurrency_limit=1)
    page.launch(server_name=host, server_port=port, share=shared, max_file_size=MAX_FILE_SIZE,
                prevent_thread_lock=not block, css=CSS, footer_links=["api"], run_history=False)
    return page


def _in_colab() -> bool:
    return "google.colab" in sys.modules
