"""One Milvus server for a room (docs/workshop.md): the organiser makes a database per attendee, each attendee's
MILVUS_URI names theirs (`http://HOST:19530/DATABASE`), and their notebooks, side by side, neither see nor drop
each other's collections, though both use the notebooks' collection name."""

from __future__ import annotations

import uuid

import numpy as np
from pymilvus import MilvusClient

from helpers import config
from helpers.connection import connection_options

COLLECTION = "image_embeddings"  # notebook 01's, the same for every attendee
DIM = 8


def notebook_client(monkeypatch, uri: str) -> MilvusClient:
    """The client a notebook's settings and connect cells make with `MILVUS_URI=uri`."""
    monkeypatch.setenv(config.URI_ENV, uri)
    milvus_uri = config.milvus_uri(default="./milvus_reverse_image_search.db")
    return MilvusClient(uri=milvus_uri, token=config.milvus_token(), **connection_options(milvus_uri))


def run_the_notebook(client: MilvusClient, rows: int) -> None:
    """What notebook 01 does to its collection: drop it if there, create it, insert, flush."""
    if client.has_collection(COLLECTION):
        client.drop_collection(COLLECTION)
    client.create_collection(COLLECTION, dimension=DIM, metric_type="COSINE", consistency_level="Strong")
    vectors = np.random.default_rng(rows).standard_normal((rows, DIM)).astype(np.float32)
    client.insert(COLLECTION, [{"id": i, "vector": vector.tolist(), "filename": f"{i}.jpg"}
                               for i, vector in enumerate(vectors)])
    client.flush(COLLECTION)


def count(client: MilvusClient) -> int:
    return client.query(COLLECTION, filter="", output_fields=["count(*)"])[0]["count(*)"]


def test_two_attendees_on_one_server_neither_see_nor_drop_each_others_collections(milvus_server, monkeypatch):
    organiser = MilvusClient(uri=milvus_server, **connection_options(milvus_server))
    databases = [f"attendee_{uuid.uuid4().hex[:8]}_{seat}" for seat in (1, 2)]
    for database in databases:
        organiser.create_database(database)
    try:
        ada, bo = (notebook_client(monkeypatch, f"{milvus_server}/{database}") for database in databases)
        run_the_notebook(ada, rows=10)
        run_the_notebook(bo, rows=3)  # drops "its" collection first, as the notebook does: not Ada's
        assert (count(ada), count(bo)) == (10, 3)
        assert ada.list_collections() == bo.list_collections() == [COLLECTION]
        bo.drop_collection(COLLECTION)
        assert not bo.has_collection(COLLECTION) and count(ada) == 10
        assert ada.search(COLLECTION, data=[[1.0] * DIM], limit=3)[0]  # Ada's notebook goes on searching
    finally:
        for database in databases:
            client = MilvusClient(uri=f"{milvus_server}/{database}", **connection_options(milvus_server))
            for name in client.list_collections():
                client.drop_collection(name)
            organiser.drop_database(database)
