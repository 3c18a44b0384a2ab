"""helpers.collection, connection and indexing on a real Milvus server (loopback) and on Milvus
Lite: the same tests, the same assertions.

Most tests are parametrized over the backend, `lite` (a Milvus Lite file in a temporary folder) and
`server` (the session's Milvus standalone from the `milvus_server` fixture, tests/milvus_fixture.py), and
over the two ways the tutorials create a collection: `quick` (quick setup, COSINE) and `schema`
(explicit schema, IVF_FLAT, L2, an extra VARCHAR `painter`). The data are seeded random unit vectors, so
each row is its own nearest neighbour.
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid

import numpy as np
import pytest

from helpers import collection, indexing
from helpers.tool import connecting, searching
from helpers.collection import CollectionError
from helpers.results import hit_path

from conftest import IMAGENET_SAMPLE, use_dead_proxy

DIM = 64
ROWS = 300
PAINTERS = ("Monet", "Renoir", "Degas")
VECTORS = np.random.default_rng(20240611).standard_normal((ROWS, DIM)).astype(np.float32)
VECTORS /= np.linalg.norm(VECTORS, axis=1, keepdims=True)
PATHS = [f"paintings/{PAINTERS[i % 3]}/{i:04d}.jpg" for i in range(ROWS)]

# How each style is created and searched, and the distance of a vector to itself.
STYLES = {
    "quick": dict(vector_field="vector", search_params=None, self_distance=1.0, best_first=-1),
    "schema": dict(vector_field="image_embedding", search_params={"params": {"nprobe": 16}}, self_distance=0.0,
                   best_first=1),
}


def create(client, name: str, style: str, dim: int = DIM, **kwargs) -> None:
    kwargs.setdefault("recreate", True)
    if style == "quick":
        collection.create_quick(client, name, dim, metric="COSINE", **kwargs)
    else:
        collection.create_with_schema(client, name, dim, index_type="IVF_FLAT", metric="L2",
                                      index_params={"nlist": 128}, text_fields={"painter": 32}, **kwargs)


def rows(style: str, indices=range(ROWS)) -> list[dict]:
    field = STYLES[style]["vector_field"]
    return [{field: VECTORS[i].tolist(), "filepath": PATHS[i], "painter": PAINTERS[i % 3]} for i in indices]


@pytest.fixture(scope="module", params=["lite", "server"])
def uri(request, tmp_path_factory) -> str:
    """A Milvus Lite file, or the URI of the session's server (started only when a server test runs)."""
    if request.param == "lite":
        return str(tmp_path_factory.mktemp("lite") / "milvus.db")
    return request.getfixturevalue("milvus_server")


@pytest.fixture(scope="module")
def client(uri):
    client = connecting.connect(uri, token="")
    yield client
    client.close()


def _fresh_name() -> str:
    return f"test_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def name(client) -> str:
    """A fresh collection name, dropped afterwards (the server outlives the test)."""
    name = _fresh_name()
    yield name
    if client.has_collection(name):
        client.drop_collection(name)


@pytest.fixture(scope="module", params=list(STYLES))
def style(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def filled(client, style):
    """A collection of all ROWS made once per backend and style (creating one on the server takes seconds)."""
    name = _fresh_name()
    create(client, name, style, model="resnet34")
    inserted = indexing.insert(client, name, rows(style), batch_size=128)  # three batches, then a flush
    yield name, inserted
    client.drop_collection(name)


def test_batch_insert_count_and_each_vector_is_its_own_top_hit(client, filled, style):
    name, inserted = filled
    assert inserted == ROWS
    assert searching.count(client, name) == ROWS

    spec = STYLES[style]
    hits = searching.search(client, name, VECTORS, top_k=5, search_params=spec["search_params"])
    assert len(hits) == ROWS
    assert [hit_path(query_hits[0]) for query_hits in hits] == PATHS
    for query_hits in hits:
        assert query_hits[0]["distance"] == pytest.approx(spec["self_distance"], abs=1e-4)
        distances = [hit["distance"] * spec["best_first"] for hit in query_hits]
        assert distances == sorted(distances)


def test_stored_paths_lists_every_row(client, filled):
    assert indexing.stored_paths(client, filled[0]) == set(PATHS)


def test_filtered_search_returns_only_monet(client, filled, style):
    queries = range(6)  # 0 and 3 are Monet's, the others are not
    hits = searching.search(client, filled[0], VECTORS[list(queries)], top_k=10, filter='painter == "Monet"',
                             output_fields=("filepath", "painter"), search_params=STYLES[style]["search_params"])
    for i, query_hits in zip(queries, hits):
        assert len(query_hits) == 10
        assert {hit["entity"]["painter"] for hit in query_hits} == {"Monet"}
        assert all(hit_path(hit).startswith("paintings/Monet/") for hit in query_hits)
        if PAINTERS[i % 3] == "Monet":
            assert hit_path(query_hits[0]) == PATHS[i]
        else:
            assert PATHS[i] not in {hit_path(hit) for hit in query_hits}


def test_existing_collection_of_another_dim_or_model_is_refused(client, filled, style):
    name = filled[0]
    create(client, name, style, model="resnet34", recreate=False)  # same model and size: kept as it is
    assert searching.count(client, name) == ROWS
    with pytest.raises(CollectionError, match=f"holds {DIM}-d vectors from model 'resnet34'"):
        create(client, name, style, dim=2 * DIM, model="resnet34", recreate=False)
    with pytest.raises(CollectionError, match="'clip' makes"):
        create(client, name, style, model="clip", recreate=False)
    assert searching.count(client, name) == ROWS  # nothing was dropped


def test_drop_and_recreate_gives_an_empty_collection(client, name, style):
    create(client, name, style)
    indexing.insert(client, name, rows(style), flush=False)
    assert searching.count(client, name) == ROWS

    create(client, name, style)  # recreate=True, as the tutorials do on a re-run
    assert client.has_collection(name)
    assert searching.count(client, name) == 0
    assert indexing.stored_paths(client, name) == set()
    params = STYLES[style]["search_params"]
    assert searching.search(client, name, VECTORS[0], search_params=params) == []
    assert searching.search(client, name, VECTORS[:2], search_params=params) == [[], []]


def test_search_right_after_insert_sees_the_new_rows(client, name):
    """Collections from helpers.collection are Session: the inserting client finds every new row at once, with
    no flush and no wait."""
    collection.create_quick(client, name, DIM, recreate=True)
    for start in range(0, ROWS, 60):
        batch = range(start, start + 60)
        assert indexing.insert(client, name, rows("quick", batch), flush=False) == 60
        hits = searching.search(client, name, VECTORS[start:start + 60], top_k=1)  # first, before any count
        assert [hit_path(query_hits[0]) for query_hits in hits] == PATHS[start:start + 60]
        assert searching.count(client, name) == start + 60


def test_search_notices_a_collection_dropped_or_recreated_behind_its_back(client, name):
    """search() remembers a collection's layout after the first query (one call per query, not four);
    a collection dropped or rebuilt with another size by someone else still gets the right answer."""
    collection.create_quick(client, name, DIM, recreate=True)
    indexing.insert(client, name, rows("quick", range(20)))
    assert hit_path(searching.search(client, name, VECTORS[5], top_k=1)[0]) == PATHS[5]
    client.drop_collection(name)  # directly, not through helpers
    with pytest.raises(CollectionError, match=f"No collection named '{name}'"):
        searching.search(client, name, VECTORS[5], top_k=1)

    client.create_collection(name, dimension=2 * DIM, auto_id=True, consistency_level="Strong")
    wide = np.concatenate([VECTORS[:20], VECTORS[:20]], axis=1) / np.sqrt(2)
    client.insert(name, [{"vector": wide[i].tolist(), "filepath": PATHS[i]} for i in range(20)])
    assert hit_path(searching.search(client, name, wide[7], top_k=1)[0]) == PATHS[7]
    with pytest.raises(CollectionError, match=f"holds {2 * DIM}-d vectors.*query vector has {DIM} values"):
        searching.search(client, name, VECTORS[7], top_k=1)


def test_a_proxy_in_the_environment_is_not_used_for_local_milvus(uri, tmp_path, monkeypatch):
    """On machines that reach the internet through HTTP(S)_PROXY, gRPC would send even calls to 127.0.0.1
    (Milvus Lite's own server too) to that proxy; connect() keeps local calls off it."""
    use_dead_proxy(monkeypatch)
    # A new address, so pymilvus opens a new channel instead of sharing the module's client.
    local = str(tmp_path / "proxied.db") if uri.endswith(".db") else uri.replace("127.0.0.1", "localhost")
    client = connecting.connect(local, token="", timeout=10)
    name = _fresh_name()
    try:
        collection.create_quick(client, name, DIM, recreate=True)
        assert indexing.insert(client, name, rows("quick", range(10))) == 10
        assert hit_path(searching.search(client, name, VECTORS[3], top_k=1)[0]) == PATHS[3]
    finally:
        client.drop_collection(name)
        client.close()


def count_at_its_level(client, name: str) -> int:
    return client.query(name, filter="", output_fields=["count(*)"])[0]["count(*)"]


@pytest.mark.parametrize("level", ["Eventually", "Bounded"])
def test_weaker_consistency_may_miss_rows_right_after_insert(client, name, level, record_property):
    """Not what helpers.collection creates: a collection made directly with pymilvus at a weaker level.

    On the server a count or search right after an insert may see none, some or all of the new rows (in
    our runs on 2.3.5: none; on Lite: all); that number is recorded and printed, not asserted. What is
    reliable: a Strong request sees every row at once, and the weaker level sees them all shortly after.
    """
    client.create_collection(name, dimension=DIM, auto_id=True, consistency_level=level)
    client.insert(name, rows("quick"))  # no flush
    seen_at_once = count_at_its_level(client, name)
    last_row_found = any(searching.search(client, name, VECTORS[-1], top_k=1))
    record_property("rows_seen_right_after_insert", f"{seen_at_once}/{ROWS}")
    print(f"{level}: {seen_at_once}/{ROWS} rows seen right after insert; last row found: {last_row_found}")
    assert 0 <= seen_at_once <= ROWS

    strong = client.query(name, filter="", output_fields=["count(*)"], consistency_level="Strong")
    assert strong[0]["count(*)"] == ROWS
    deadline = time.monotonic() + 15
    while count_at_its_level(client, name) < ROWS and time.monotonic() < deadline:
        time.sleep(0.2)
    assert count_at_its_level(client, name) == ROWS


def test_the_cli_indexes_and_searches_on_the_server(milvus_server, cli):
    """`python -m helpers index` and `search` with `--db http://127.0.0.1:PORT`, as real subprocesses."""
    name, train = _fresh_name(), IMAGENET_SAMPLE / "train"
    where = ("--db", milvus_server, "--collection", name)
    try:
        indexed = cli("index", str(train), "--batch-size", "32", *where)
        assert indexed.returncode == 0, indexed.stderr
        assert "Indexed 80 new images" in indexed.stdout
        image = train / "castle" / sorted(os.listdir(train / "castle"))[2]
        found = cli("search", str(image), "--json", "--top-k", "4", *where)
        assert found.returncode == 0, found.stderr
        hits = json.loads(found.stdout)
        assert len(hits) == 4 and hits[0]["path"] == str(image)
        assert hits[0]["distance"] == pytest.approx(1.0, abs=1e-4)
        again = cli("index", str(train), *where)
        assert again.returncode == 0 and "Nothing new to index: all 80 images" in again.stdout, again.stderr
    finally:
        client = connecting.connect(milvus_server, token="")
        if client.has_collection(name):
            client.drop_collection(name)
        client.close()


def test_nothing_listening_gives_collection_error_quickly():
    with socket.socket() as sock:  # a port that was free a moment ago and that nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    started = time.monotonic()
    with pytest.raises(CollectionError, match=f"Milvus at http://127.0.0.1:{port} did not answer"):
        connecting.connect(f"http://127.0.0.1:{port}", token="", timeout=5)
    assert time.monotonic() - started < 15
