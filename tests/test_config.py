import sys
import types
from pathlib import Path

import pytest

from helpers import config


@pytest.mark.parametrize("value, expected", [("1", True), ("true", True), ("ON", True), ("0", False), ("", False)])
def test_offline_switch_values(monkeypatch, value, expected):
    monkeypatch.setenv(config.OFFLINE_ENV, value)
    assert config.is_offline() is expected


def test_cache_dir_is_absolute_and_movable(monkeypatch, tmp_path):
    monkeypatch.delenv(config.CACHE_ENV, raising=False)
    assert config.cache_dir() == (Path.home() / ".cache" / "image-search-milvus").resolve()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(config.CACHE_ENV, "relative/cache")
    assert config.cache_dir() == tmp_path / "relative" / "cache"
    assert config.cache_dir().is_absolute()


def test_milvus_uri_and_token_come_from_the_environment(monkeypatch):
    assert config.milvus_uri(default="./nb.db") == "./nb.db"
    assert config.milvus_token() == ""
    monkeypatch.setenv(config.URI_ENV, "http://127.0.0.1:19530")
    monkeypatch.setenv(config.TOKEN_ENV, "user:secret")
    assert config.milvus_uri(default="./nb.db") == "http://127.0.0.1:19530"
    assert config.milvus_token() == "user:secret"


def test_offline_notice_is_printed_once(monkeypatch, capsys):
    monkeypatch.setattr(config, "_notice_shown", False)
    monkeypatch.delitem(sys.modules, "ipykernel", raising=False)  # a terminal: stderr
    config.announce_offline()
    config.announce_offline()
    assert capsys.readouterr().err == config.OFFLINE_NOTICE + "\n"


def test_no_notice_online(monkeypatch, capsys):
    monkeypatch.setattr(config, "_notice_shown", False)
    monkeypatch.delenv(config.OFFLINE_ENV)
    config.announce_offline()
    assert capsys.readouterr() == ("", "")


def test_offline_notice_is_plain_output_in_a_notebook(monkeypatch, capsys):
    monkeypatch.setattr(config, "_notice_shown", False)
    monkeypatch.setitem(sys.modules, "ipykernel", types.ModuleType("ipykernel"))  # what a notebook's kernel holds
    config.announce_offline()
    assert capsys.readouterr() == (config.OFFLINE_NOTICE + "\n", "")
