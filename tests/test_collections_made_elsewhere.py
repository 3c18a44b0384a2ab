"""Collections made by the original tutorials' own code (tests/tutorial_collections.py), pointed at with this
suite's command line and demo page: searched with `--model`, the model recorded once, extended by `index` in
their own fields, and rebuilt by `index --recreate` with all rows or none, never a half. On Milvus Lite, and
tutorial 2's collection on the test Milvus server as the tutorial has it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import requests
from gradio_client import Client, handle_file
from PIL import Image

import tutorial_collections as tutorials
from helpers import config
from helpers.tool import app
from helpers.catalog import model_id
from helpers.collection import layout
from helpers.tool.searching import count, require_collection
from helpers.tool.connecting import connect
from helpers.encoders import load_encoder
from helpers.tool.existing import fields_of
from helpers.indexing import index_folder
from helpers.tool.rebuild import REBUILD_OF, REBUILD_SUFFIX, index_or_rebuild
from helpers.indexing import stored_paths
from test_interrupted_indexing import Indexer, release

NO_PROXY = {"http": None, "https": None}


@pytest.fixture(scope="module")
def encoders(resnet34, clip_encoder) -> dict:
    return {"resnet34": resnet34, "resnet50": load_encoder("resnet50", device="cpu"), "clip": clip_encoder}


@pytest.fixture
def made(tmp_path, encoders):
    """build(number): tutorial `number`'s collection in a fresh Lite file below a fresh working folder, given
    back so the command line can open it; returns (work folder, db, stored paths)."""

    def build(number: int) -> tuple[Path, Path, list[str]]:
        work, db = tmp_path / "work", tmp_path / "tutorial.db"
        work.mkdir(exist_ok=True)
        client = connect(str(db))
        paths = tutorials.build(client, work, number, encoders[tutorials.TUTORIALS[number].model])
        release(client, db)
        return work, db, paths

    return build


def errors(result: subprocess.CompletedProcess) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.strip() and line != config.OFFLINE_NOTICE]


def state(db: Path, name: str) -> tuple[int, set[str], str | None]:
    """Rows, stored paths (resolved from the working folder as index does) and recorded model; given back."""
    client = connect(str(db))
    require_collection(client, name)
    result = count(client, name), stored_paths(client, name), layout(client, name).model
    release(client, db)
    return result


def first_hit(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()[0].split()[-1]


def test_a_tutorial_1_collection_is_searched_with_model_then_without_once_recorded(cli, made):
    work, db, paths = made(1)
    query = paths[0]
    refused = cli("search", query, "--db", str(db), "--collection", "image_embeddings", cwd=work)
    [line] = errors(refused)
    assert refused.returncode == 2 and "say which with --model resnet34 or --model clip" in line
    advice = line[line.index("`") + 1:line.rindex("`")]  # run the advice as printed, NAME filled in
    assert advice == "python -m helpers record --collection image_embeddings --model NAME"
    before = state(db, "image_embeddings")

    assert first_hit(cli("search", query, "--db", str(db), "--collection", "image_embeddings", "--model", "resnet34",
                         cwd=work)) == query  # its own stored relative path comes back first
    recorded = cli(*advice.replace("NAME", "resnet34").split()[3:], "--db", str(db), cwd=work)
    assert recorded.returncode == 0 and "now records model resnet34 (offline stand-in)" in recorded.stdout
    after = state(db, "image_embeddings")
    assert after[:2] == before[:2] and after[2] == "resnet34 (offline stand-in)"  # nothing else changed
    assert first_hit(cli("search", query, "--db", str(db), "--collection", "image_embeddings", cwd=work)) == query


def test_a_model_of_another_size_or_another_recorded_model_is_refused_before_it_loads(cli, made):
    work, db, paths = made(2)
    result = cli("search", paths[0], "--db", str(db), "--collection", "image_search", "--model", "resnet34", cwd=work)
    [line] = errors(result)
    assert result.returncode == 2
    assert "holds 2048-d vectors, but model resnet34 makes 512-d vectors. Pick the model that built it " \
           "(--model resnet50)" in line
    assert cli("record", "--db", str(db), "--collection", "image_search", "--model", "clip", cwd=work).returncode == 2
    timm_name = cli("record", "--db", str(db), "--collection", "image_search", "--model", "resnet18", cwd=work)
    assert timm_name.returncode == 2  # any timm name is taken, and its vector size checked first
    assert "holds 2048-d vectors, but model resnet18 makes 512-d vectors" in errors(timm_name)[0]
    assert state(db, "image_search")[2] is None


def test_raw_vectors_for_l2_get_one_line_and_unit_vectors_none(cli, made, tmp_path):
    work, db, paths = made(2)
    result = cli("search", paths[0], "--db", str(db), "--collection", "image_search", "--model", "resnet50", cwd=work)
    assert result.returncode == 0 and len(result.stdout.splitlines()) == 10
    [warning] = errors(result)
    assert warning.startswith("warning: collection 'image_search' holds vectors that are not unit length")
    assert "--collection image_search --model resnet50 --recreate` (writes new rows" in warning
    rebuilt = cli("index", "paintings/paintings", "--db", str(db), "--collection", "image_search", "--model",
                  "resnet50", "--recreate", cwd=work)  # the rebuild the warning advises
    assert rebuilt.returncode == 0, rebuilt.stderr
    again = cli("search", paths[0], "--db", str(db), "--collection", "image_search", cwd=work)
    assert again.returncode == 0 and errors(again) == []


@pytest.mark.parametrize("number", [1, 2, 3])
def test_index_adds_only_new_images_in_the_collections_own_fields(cli, made, number):
    tutorial = tutorials.TUTORIALS[number]
    work, db, paths = made(number)
    folder = work / tutorial.folder
    new = folder / "new_class" / "new.jpg"
    new.parent.mkdir()
    shutil.copy(work / paths[0], new)
    result = cli("index", tutorial.folder, "--db", str(db), "--collection", tutorial.collection, "--model",
                 tutorial.model, cwd=work)
    assert result.returncode == 0, result.stderr
    assert "Indexed 1 new images" in result.stdout and f"{len(paths)} were already in the collection" in result.stdout
    rows, stored, model = state(db, tutorial.collection)
    assert rows == len(paths) + 1 and stored == set(paths) | {str(new)}
    assert model == f"{tutorial.model} (offline stand-in)"  # recorded: later runs need no --model
    client = connect(str(db))
    require_collection(client, tutorial.collection)
    [row] = client.query(tutorial.collection, filter=f'{tutorial.path_field} == "{new}"',
                         output_fields=[tutorial.path_field, tutorial.vector_field])
    assert len(row[tutorial.vector_field]) == (2048 if number == 2 else 512)
    release(client, db)


def test_index_into_a_schema_it_cannot_fill_is_refused_before_embedding(tmp_path, resnet34, train_copy):
    from pymilvus import DataType, MilvusClient

    client = connect(str(tmp_path / "m.db"))
    schema = MilvusClient.create_schema(auto_id=True, enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("filepath", DataType.VARCHAR, max_length=200)
    schema.add_field("painter", DataType.VARCHAR, max_length=64)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=512)
    index = client.prepare_index_params()
    index.add_index(field_name="vector", index_type="FLAT", metric_type="COSINE")
    client.create_collection("paintings", schema=schema, index_params=index)
    for recreate in (False, True):
        with pytest.raises(Exception, match="needs field\\(s\\) painter in every row.*Nothing was written"):
            index_or_rebuild(client, "paintings", resnet34, train_copy, progress=False, recreate=recreate)
    assert count(client, "paintings") == 0


def test_recreate_into_a_schema_of_another_size_is_refused_and_keeps_every_row(cli, made):
    work, db, paths = made(2)
    result = cli("index", "paintings/paintings", "--db", str(db), "--collection", "image_search", "--model",
                 "resnet34", "--recreate", cwd=work)
    [line] = errors(result)
    assert result.returncode == 2 and "holds 2048-d vectors, but model resnet34 makes 512-d" in line
    assert state(db, "image_search")[:2] == (len(paths), set(paths))


@pytest.mark.parametrize("stop", ["after the first chunk", "while deleting", "never"])
def test_recreate_ends_with_every_old_row_or_every_new_one(cli, made, stop):
    work, db, paths = made(1)
    indexer = Indexer(work / "train", db, "--collection", "image_embeddings", "--model", "resnet34", "--recreate")
    new_paths = {str(work / path) for path in paths}  # written again, absolute
    if stop == "after the first chunk":
        indexer.wait_for_bar(2)
    elif stop == "while deleting":
        indexer.wait_for(rb"Deleting the 80 old rows")
    if stop == "never":
        assert indexer.process.wait(timeout=300) == 0, indexer.stderr.decode()
    indexer.kill_group()
    rows, stored, _ = state(db, "image_embeddings")
    kept_old, all_new = set(paths) <= stored, new_paths <= stored
    assert kept_old or all_new, (rows, stop)
    assert rows >= len(paths)  # never fewer rows than before (the old ones or all the new ones are there)
    if stop == "never":
        assert stored == new_paths and rows == len(paths)
    finished = cli("index", "train", "--db", str(db), "--collection", "image_embeddings", "--model", "resnet34",
                   "--recreate", cwd=work)  # running the same command again finishes the job
    assert finished.returncode == 0, finished.stderr
    assert state(db, "image_embeddings") == (len(paths), new_paths, "resnet34 (offline stand-in)")


def test_recreate_of_a_quick_collection_for_another_size_swaps_in_a_complete_rebuild(cli, made):
    work, db, paths = made(3)
    indexer = Indexer(work / "images_folder" / "train", db, "--collection", "image_collection", "--model",
                      "resnet50", "--recreate")
    indexer.wait_for_bar(2)
    indexer.kill_group()  # stopped halfway: the old collection is untouched, the rebuild is beside it
    assert state(db, "image_collection")[:2] == (len(paths), set(paths))
    finished = cli("index", "images_folder/train", "--db", str(db), "--collection", "image_collection", "--model",
                   "resnet50", "--recreate", cwd=work)
    assert finished.returncode == 0, finished.stderr
    rows, stored, model = state(db, "image_collection")
    assert rows == len(paths) and model == "resnet50 (offline stand-in)"
    client = connect(str(db))
    layout = fields_of(client, "image_collection")
    assert (layout.dim, layout.metric, layout.path) == (2048, "COSINE", "filepath")
    assert client.list_collections() == ["image_collection"]
    release(client, db)


def test_a_rebuild_stopped_between_drop_and_rename_is_finished_by_the_next_run(tmp_path, resnet34, small_train_copy):
    from helpers.collection import create_quick

    client = connect(str(tmp_path / "m.db"))
    aside = "images" + REBUILD_SUFFIX
    create_quick(client, aside, resnet34.dim, model=resnet34.model_id, recreate=True)
    client.alter_collection_properties(aside, properties={REBUILD_OF: "images"})
    index_folder(client, aside, resnet34, small_train_copy, progress=False)  # the rebuilt rows, old collection dropped
    report = index_or_rebuild(client, "images", resnet34, small_train_copy, progress=False)
    assert report.already_indexed == 16 and report.indexed == 0 and client.list_collections() == ["images"]
    assert REBUILD_OF not in client.describe_collection("images").get("properties", {})


def test_the_index_into_a_collection_of_another_users_rebuild_name_is_refused(tmp_path, resnet34, train_copy):
    from helpers.collection import create_quick

    client = connect(str(tmp_path / "m.db"))
    create_quick(client, "images", 2048, model="resnet50", recreate=True)
    create_quick(client, "images" + REBUILD_SUFFIX, 512, recreate=True)  # somebody's own collection
    with pytest.raises(Exception, match="a collection of that name exists already. Nothing was changed"):
        index_or_rebuild(client, "images", resnet34, train_copy, progress=False, recreate=True)
    assert sorted(client.list_collections()) == ["images", "images" + REBUILD_SUFFIX]


def curl(*args: str) -> str:
    result = subprocess.run(["curl", "-s", "--noproxy", "*", *args], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def curl_call(base: str, data: list) -> tuple[str, object]:
    """docs/demo-app.md's two curl calls: POST the inputs, then read the event stream; (event, its data)."""
    event = json.loads(curl("-H", "Content-Type: application/json", "-d", json.dumps({"data": data}),
                            f"{base}/gradio_api/call/search_image"))["event_id"]
    stream = curl("-N", f"{base}/gradio_api/call/search_image/{event}")
    kind = next(line.split(": ", 1)[1] for line in stream.splitlines() if line.startswith("event: "))
    payload = next(line.split(": ", 1)[1] for line in stream.splitlines() if line.startswith("data: "))
    return kind, json.loads(payload)


def test_the_demo_page_serves_a_tutorial_collection_with_model_to_gradio_client_and_curl(made, encoders, monkeypatch):
    work, db, paths = made(1)
    monkeypatch.chdir(work)  # its relative paths are the tutorial folder's
    with pytest.raises(Exception, match="say which with --model resnet34 or --model clip"):
        app.launch(str(db), "image_embeddings", encoder=encoders["resnet34"])
    page = app.launch(str(db), "image_embeddings", model="resnet34", encoder=encoders["resnet34"])
    base = page.local_url.rstrip("/")
    try:
        hits = Client(page.local_url, verbose=False).predict(handle_file(work / paths[0]), 3, "",
                                                             api_name="/search_image")
        assert hits[0]["filepath"] == Path(paths[0]).name and len(hits) == 3  # made elsewhere: the file name

        [uploaded] = json.loads(curl("-F", f"files=@{work / paths[0]}", f"{base}/gradio_api/upload"))
        kind, answer = curl_call(base, [{"path": uploaded}, 3, ""])
        assert kind == "complete" and answer[0][0]["filepath"] == Path(paths[0]).name
        thumbnail = requests.get(answer[0][0]["thumbnail"], proxies=NO_PROXY, timeout=30)  # a plain HTTP client
        assert thumbnail.status_code == 200 and Image.open(__import__("io").BytesIO(thumbnail.content)).size[0] <= 320

        for data, says in [([{"path": uploaded}], "/search_image takes 3 inputs (image, top_k, filter_value) and got 1"),
                           ([{"path": str(work / paths[0])}, 3, ""], "was never uploaded here: pass a file uploaded to "
                                                                      "/gradio_api/upload"),
                           ([None, 3, ""], "No image: pass a file uploaded to /gradio_api/upload")]:
            kind, answer = curl_call(base, data)
            assert kind == "error" and says in answer["error"], answer
        info = json.loads(curl(f"{base}/gradio_api/info"))["named_endpoints"]["/search_image"]["parameters"]
        assert [parameter["parameter_has_default"] for parameter in info] == [False, False, False]
    finally:
        page.close()


def test_tutorial_2_on_a_milvus_server_is_searched_extended_and_rebuilt(cli, milvus_server, tmp_path, encoders):
    work = tmp_path / "work"
    work.mkdir()
    client = connect(milvus_server)
    paths = tutorials.build(client, work, 2, encoders["resnet50"])
    client.close()
    common = ("--db", milvus_server, "--collection", "image_search")
    found = cli("search", paths[0], *common, "--model", "resnet50", cwd=work)
    assert found.returncode == 0 and len(found.stdout.splitlines()) == 10 and "not unit length" in found.stderr
    page = app.launch(milvus_server, "image_search", model="resnet50", encoder=encoders["resnet50"])
    try:  # the demo page too, with the same flag; its page says what the distances mean
        hits = Client(page.local_url, verbose=False).predict(handle_file(work / paths[0]), 3, "",
                                                             api_name="/search_image")
        assert len(hits) == 3 and all(hit["filepath"] in {Path(path).name for path in paths} for hit in hits)
        assert "holds vectors that are not unit length" in requests.get(f"{page.local_url}config", proxies=NO_PROXY,
                                                                        timeout=30).text
    finally:
        page.close()
    extended = cli("index", "paintings/paintings", *common, "--model", "resnet50", cwd=work)
    assert extended.returncode == 0 and "Nothing new to index" in extended.stdout, extended.stderr
    rebuilt = cli("index", "paintings/paintings", *common, "--recreate", cwd=work)  # the model is recorded now
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert first_hit(cli("search", paths[0], *common, cwd=work)) == str(work / paths[0])  # unit vectors now
    client = connect(milvus_server)
    assert count(client, "image_search") == len(paths)
    assert stored_paths(client, "image_search") == {str(work / path) for path in paths}
    client.drop_collection("image_search")


def test_a_tutorial_3_collection_is_searched_with_text_given_its_model(cli, made):
    work, db, paths = made(3)
    result = cli("search", "--text", "a white dog", "--db", str(db), "--collection", "image_collection", "--model",
                 "clip", cwd=work)
    assert result.returncode == 0 and errors(result) == [], result.stderr
    assert {line.split()[-1] for line in result.stdout.splitlines()} <= set(paths)
    assert len(result.stdout.splitlines()) == 10


def test_record_takes_openai_clips_own_name_for_clip(tmp_path):
    from helpers.collection import create_quick
    from helpers.tool.existing import record_model

    client = connect(str(tmp_path / "m.db"))
    create_quick(client, "images", 512, recreate=True)
    assert record_model(client, "images", "ViT-B/32") == model_id("clip") == layout(client, "images").model
