"""`python -m helpers` run as a real subprocess on the offline samples."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from conftest import DEAD_PROXY, IMAGENET_SAMPLE, PAINTINGS_SAMPLE


@pytest.fixture(scope="module")
def indexed(cli, tmp_path_factory) -> tuple[Path, Path]:
    """The sample gallery indexed with ResNet-34 into a fresh Lite file, by the CLI."""
    folder = tmp_path_factory.mktemp("cli")
    db = folder / "x.db"
    result = cli("index", str(IMAGENET_SAMPLE / "train"), "--db", str(db), "--batch-size", "32")
    assert result.returncode == 0, result.stderr
    assert "Indexed 80 new images" in result.stdout and "Skipped" not in result.stdout
    return db, IMAGENET_SAMPLE / "train"


def test_an_indexed_image_finds_itself_first(cli, indexed):
    db, train = indexed
    image = train / "goldfish" / sorted(os.listdir(train / "goldfish"))[3]
    result = cli("search", str(image), "--db", str(db), "--json", "--top-k", "4")
    assert result.returncode == 0, result.stderr
    hits = json.loads(result.stdout)
    assert [set(hit) for hit in hits] == [{"path", "distance", "similarity"}] * 4  # COSINE: a similarity
    assert hits[0]["path"] == str(image) and hits[0]["distance"] == pytest.approx(1.0, abs=1e-4)
    assert [hit["distance"] for hit in hits] == sorted((hit["distance"] for hit in hits), reverse=True)


def test_a_bfloat16_query_finds_the_image_in_a_float32_collection_and_float16_needs_a_gpu(cli, indexed):
    db, train = indexed
    image = train / "castle" / sorted(os.listdir(train / "castle"))[1]
    result = cli("search", str(image), "--db", str(db), "--json", "--precision", "bfloat16")
    assert result.returncode == 0, result.stderr
    hit = json.loads(result.stdout)[0]
    assert hit["path"] == str(image) and hit["distance"] == pytest.approx(1.0, abs=1e-3)
    if torch.cuda.is_available():
        return  # float16 is the GPU's default there
    refused = cli("search", str(image), "--db", str(db), "--precision", "float16")
    assert refused.returncode == 2 and refused.stdout == ""
    assert refused.stderr.startswith("error: precision 'float16' runs on a GPU only") and "bfloat16" in refused.stderr


def test_rows_hold_absolute_paths_and_another_spelling_of_the_folder_adds_nothing(cli, indexed, tmp_path):
    db = tmp_path / "rel.db"
    result = cli("index", "train", "--db", str(db), "--collection", "rel", cwd=IMAGENET_SAMPLE)
    assert result.returncode == 0, result.stderr
    castle = sorted(os.listdir(IMAGENET_SAMPLE / "train/castle"))[0]
    found = cli("search", "train/castle/" + castle, "--db", str(db), "--collection", "rel", "--json", cwd=IMAGENET_SAMPLE)
    assert json.loads(found.stdout)[0]["path"] == str(IMAGENET_SAMPLE / "train" / "castle" / castle)
    link = tmp_path / "photos"
    link.symlink_to(IMAGENET_SAMPLE / "train")
    for spelling in (str(IMAGENET_SAMPLE / "train"), "../train", str(link)):
        again = cli("index", spelling, "--db", str(db), "--collection", "rel", cwd=IMAGENET_SAMPLE / "test")
        assert "Nothing new to index: all 80 images are already in the collection." in again.stdout, again.stderr


def test_re_indexing_adds_no_duplicates(cli, indexed):
    db, train = indexed
    result = cli("index", str(train), "--db", str(db))
    assert result.returncode == 0, result.stderr
    assert "Nothing new to index: all 80 images are already in the collection." in result.stdout


def test_text_search_on_a_clip_collection(cli, tmp_path):
    db = tmp_path / "clip.db"
    folder = PAINTINGS_SAMPLE / "paintings"
    assert cli("index", str(folder), "--db", str(db), "--model", "clip").returncode == 0
    result = cli("search", "--text", "water lilies", "--db", str(db), "--top-k", "3")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()[-3:]
    assert [line.split()[0] for line in lines] == ["1", "2", "3"]
    assert all(Path(line.split()[-1]).is_relative_to(folder) for line in lines)


def test_evaluate_compares_the_models_one_row_each(cli):
    result = cli("evaluate", "--train", str(IMAGENET_SAMPLE / "train"), "--test", str(IMAGENET_SAMPLE / "test"),
                 "--model", "resnet34,resnet50,clip", "--k", "5")
    assert result.returncode == 0, result.stderr
    header, *rows = result.stdout.strip().splitlines()[-4:]
    assert header.split() == ["model", "precision@5", "mAP@5", "images/s", "dim"]
    assert [row.split()[0] for row in rows] == ["resnet34", "resnet50", "clip"]
    assert [int(row.split()[4]) for row in rows] == [512, 2048, 512]
    for row in rows:
        precision, average_precision, images_per_second = map(float, row.split()[1:4])
        assert 0.0 <= average_precision <= 1.0 and precision in {i / 5 / 8 for i in range(41)}  # 8 queries, k 5
        assert images_per_second > 0


def test_evaluate_refuses_an_unknown_model_before_loading_any(cli):
    result = cli("evaluate", "--train", str(IMAGENET_SAMPLE / "train"), "--test", str(IMAGENET_SAMPLE / "test"),
                 "--model", "resnet34,not_a_model")
    assert result.returncode == 2 and result.stderr.splitlines()[-1] == (
        "error: Unknown model 'not_a_model': use resnet34, resnet50, clip (resnet50 is torchvision's), or a timm "
        "model name (timm.list_models() lists them).")
    assert "model resnet34" not in result.stdout + result.stderr


def test_download_offline_names_the_samples_and_sizes(cli):
    result = cli("download", "reverse_image_search", "resnet34")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert any(line.startswith(f"reverse_image_search: {IMAGENET_SAMPLE} (") and "MB)" in line for line in lines)
    assert any(line.startswith("resnet34: ") and "standin" in line for line in lines)


def test_a_failed_weights_download_is_one_line_without_library_warnings(cli, tmp_path):
    dead = {key: DEAD_PROXY for key in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")}
    result = cli("download", "clip", env={"IMAGE_SEARCH_OFFLINE": "0", "IMAGE_SEARCH_CACHE": str(tmp_path), **dead,
                                          "NO_PROXY": "", "no_proxy": "", "HOME": str(tmp_path)})
    assert result.returncode == 2
    assert result.stderr.startswith("error: Could not download the clip weights from https://"), result.stderr
    assert len(result.stderr.splitlines()) == 1, result.stderr  # openai-clip's pkg_resources warning is hidden


def test_unknown_download_name_is_one_clear_line(cli):
    result = cli("download", "imagenet-full")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: Unknown name(s) imagenet-full: choose from reverse_image_search, paintings, resnet34, resnet50, "
        "clip or all."
    ]


def test_a_collection_built_offline_is_not_searched_with_real_weights(cli, indexed):
    db, train = indexed
    image = next((train / "castle").iterdir())
    result = cli("search", str(image), "--db", str(db), env={"IMAGE_SEARCH_OFFLINE": "0"})
    assert result.returncode == 2
    assert "built offline, with random stand-in weights, but IMAGE_SEARCH_OFFLINE is off" in result.stderr


def test_evaluate_releases_its_milvus_lite_folder(monkeypatch, capsys):
    from milvus_lite.server_manager import server_manager_instance

    from helpers.tool import cli as command_line

    before = set(server_manager_instance._servers)
    assert command_line.main(["evaluate", "--train", str(IMAGENET_SAMPLE / "train"),
                              "--test", str(IMAGENET_SAMPLE / "test")]) == 0
    assert "precision@10" in capsys.readouterr().out
    assert set(server_manager_instance._servers) == before  # no Lite server left on a deleted folder


def test_only_the_errors_helpers_raise_on_purpose_become_one_line(monkeypatch, capsys):
    from helpers.tool import cli as command_line
    from helpers.tool import prefetch
    from helpers.errors import InputError

    def fails_with(error: Exception):
        def command(args) -> int:
            raise error
        return command

    monkeypatch.setattr(prefetch, "cmd_download", fails_with(InputError("Unknown name: say which")))
    assert command_line.main(["download", "x"]) == 2
    assert capsys.readouterr().err == "error: Unknown name: say which\n"
    monkeypatch.setattr(prefetch, "cmd_download", fails_with(ValueError("a bug in helpers")))
    with pytest.raises(ValueError, match="a bug in helpers"):  # its traceback stays
        command_line.main(["download", "x"])


def test_a_model_name_neither_offered_nor_known_to_timm_is_one_line(cli, tmp_path):
    result = cli("index", str(IMAGENET_SAMPLE / "train"), "--db", str(tmp_path / "x.db"), "--model", "no_such_model")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "error: Unknown model 'no_such_model': use resnet34, resnet50, clip (resnet50 is torchvision's), or a timm model name" \
        in result.stderr
