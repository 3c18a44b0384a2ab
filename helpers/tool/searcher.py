"""Searching one collection, for the command line and the demo page: an image or a text to ranked hits, and
where the time went.

A `Searcher` learns what it needs from the collection once (its model, a field to filter on, the index's
search parameters), loads the model's encoder when it is first needed, and turns each failure into a sentence.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image
from pymilvus import MilvusClient, MilvusException

from ..catalog import CLIP, model_id
from ..collection import check_collection_name, layout, rows
from ..connection import is_server
from ..errors import CollectionError, InputError, milvus_says, require_text
from .connecting import connect, no_answer
from .existing import query_model, unit_length_warning
from .paths import indexed_folders
from .searching import check_top_k, count, require_collection, search
from ..images import load_rgb
from ..results import PATH_FIELDS, hit_path, label_of

if TYPE_CHECKING:
    from ..encoders import Encoder

PAGE_TOP_K_LIMIT = 100  # the most results the demo page (and its API) shows: a grid a person can read
IVF_NPROBE = 128  # notebook 02's value; Milvus caps it at the index's nlist
MAX_FILTER_VALUES = 1000  # a scalar field with more distinct values gets no filter menu
ALL = "(all)"  # the filter value that filters nothing
MILVUS_WAIT_S = 6  # how long a search waits for a Milvus server that does not answer


def _filter_field(client: MilvusClient, collection: str) -> str | None:
    """The first VARCHAR field of the schema besides the image path (e.g. `painter`), if there is one."""
    found = layout(client, collection)
    return next((field for field in found.max_lengths if field not in PATH_FIELDS and field != found.primary), None)


def _distinct(client: MilvusClient, collection: str, field: str) -> list[str]:
    """The distinct values of a scalar field, sorted; empty when there are more than MAX_FILTER_VALUES."""
    values: set[str] = set()
    for row in rows(client, collection, [field]):
        if row.get(field) is not None:
            values.add(str(row[field]))
        if len(values) > MAX_FILTER_VALUES:
            break
    return sorted(values) if len(values) <= MAX_FILTER_VALUES else []


def _search_params(client: MilvusClient, collection: str) -> dict | None:
    """Search parameters for the collection's index: IVF indexes search IVF_NPROBE lists, not Milvus's default 8,
    which misses neighbours (more so behind a filter)."""
    for index in client.list_indexes(collection):
        if str(client.describe_index(collection, index).get("index_type", "")).startswith("IVF"):
            return {"params": {"nprobe": IVF_NPROBE}}
    return None


def _metric(client: MilvusClient, collection: str) -> str | None:
    """The metric of the collection's vector index (COSINE, IP or L2), or None when it has no index."""
    for index in client.list_indexes(collection):
        if metric := client.describe_index(collection, index).get("metric_type"):
            return str(metric).upper()
    return None


def score_words(metric: str | None) -> tuple[str, str]:
    """What a hit's score is for `metric`, and which way is better: a similarity for COSINE and IP, a distance
    for L2 (pymilvus calls both `distance`)."""
    if metric in ("COSINE", "IP"):
        return "similarity", f"{metric.lower() if metric == 'COSINE' else 'inner product'}, higher is closer"
    if metric == "L2":
        return "distance", "L2, lower is closer"
    return "score", "the collection's metric"


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
                 encoder: Encoder | None = None, model: str | None = None,
                 top_k_limit: int = PAGE_TOP_K_LIMIT) -> None:
        """`model` names the model that built a collection that records none (see `existing.query_model`);
        `top_k_limit` is the most results one query may ask for."""
        self.uri, self.collection, self.top_k_limit, self.precision = uri, collection, top_k_limit, precision
        if is_server(uri):  # a server refuses such a name in every call: say so in one line
            check_collection_name(collection)
        self.client = connect(uri, token, create=False)
        require_collection(self.client, collection, uri)
        self.model = query_model(self.client, collection, model)
        self.recorded = layout(self.client, collection).model
        self.warning = unit_length_warning(self.client, collection, self.model)
        self.filter_field = _filter_field(self.client, collection)
        self.count = count(self.client, collection)
        self.search_params = _search_params(self.client, collection)
        self.metric = _metric(self.client, collection)
        self.folders = indexed_folders(self.client, collection)
        if encoder is not None and encoder.model_id != model_id(self.model):
            raise CollectionError(f"Collection '{collection}' was built by {model_id(self.model)}, not by this "
                                  f"encoder ({encoder.model_id}): pass its encoder, or none to load the right one.")
        if encoder is not None:
            self.encoder = encoder

    @cached_property
    def encoder(self) -> Encoder:
        """The encoder of the collection's model, loaded on first use (it takes seconds)."""
        from ..encoders import load_encoder

        return load_encoder(self.model, precision=self.precision)

    @cached_property
    def filter_values(self) -> list[str]:
        """The values the filter menu offers (empty: no menu)."""
        return _distinct(self.client, self.collection, self.filter_field) if self.filter_field else []

    @property
    def takes_text(self) -> bool:
        """True when the collection's model also embeds text (CLIP); known before the encoder loads."""
        return self.model == CLIP

    def describe(self) -> str:
        """What the page searches, in one line."""
        given = "" if self.recorded else " (given with --model; the collection records none)"
        return (f"Collection **{self.collection}**: {self.count} images, model {model_id(self.model)}{given}, "
                f"{self.encoder.dim}-d vectors, Milvus at `{self.uri}`")

    def search_image(self, image: Image.Image | str | os.PathLike, top_k: int, value: str = "") -> Results:
        """Hits for an image (a PIL image or a file); a file that is no usable image raises `ImageError`. The
        query is checked before the encoder loads."""
        check_top_k(top_k, self.top_k_limit)
        start = time.perf_counter()
        rgb = load_rgb(image)
        vector = self.encoder.embed_image(rgb)
        return self._search(vector, top_k, value, time.perf_counter() - start)

    def search_text(self, text: str, top_k: int, value: str = "") -> Results:
        """Hits for a text (CLIP collections only); an empty text raises `InputError`."""
        if not self.takes_text:
            raise CollectionError(f"Collection '{self.collection}' holds {self.model} image vectors, which cannot "
                                  "be searched with text. Index the folder with --model clip for text queries.")
        require_text(text)
        check_top_k(top_k, self.top_k_limit)
        start = time.perf_counter()
        vector = self.encoder.embed_text(text)
        return self._search(vector, top_k, value, time.perf_counter() - start)

    def _search(self, vector: np.ndarray, top_k: int, value: str, embed_s: float) -> Results:
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
        if layout(self.client, self.collection).model != self.recorded:
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
            require_collection(self.client, self.collection, self.uri)
        except CollectionError as missing:
            return missing, True
        except MilvusException:
            return CollectionError(f"{no_answer(self.uri, MILVUS_WAIT_S, error)}. Search again when it is back."), False
        return CollectionError(f"Searching collection '{self.collection}' failed: {milvus_says(error)}."), True

    def _filter(self, value: str) -> str:
        if not value or value == ALL:
            return ""
        if not self.filter_field:
            raise InputError(f"Collection '{self.collection}' has no field to filter on.")
        return f"{self.filter_field} == {json.dumps(str(value), ensure_ascii=False)}"

    def _row(self, rank: int, hit: dict) -> dict:
        """A hit, with its full path: the key is `filepath`, since gradio_client downloads any `path`. `distance`
        is pymilvus's name for the score whatever the metric; `similarity` repeats it where higher is better."""
        path = hit_path(hit)
        row = {"rank": rank, "filepath": path, "label": label_of(path), "distance": float(hit["distance"])}
        if score_words(self.metric)[0] == "similarity":  # the same number, named for what it is
            row["similarity"] = row["distance"]
        if self.filter_field:
            row[self.filter_field] = hit["entity"].get(self.filter_field)
        return row
