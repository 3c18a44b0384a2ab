"""The upload and text-box widgets call back with what the reader gave them."""

from __future__ import annotations

from datetime import datetime, timezone

from PIL import Image

from helpers.errors import InputError
from helpers.interactive import image_upload, text_search_box
from helpers.images import find_images

from conftest import IMAGENET_SAMPLE


def upload_value(name: str, content: bytes) -> tuple:
    return ({"name": name, "type": "image/jpeg", "size": len(content), "content": memoryview(content),
             "last_modified": datetime(2026, 1, 1, tzinfo=timezone.utc)},)


def test_an_uploaded_image_reaches_the_callback_decoded():
    received = []
    widget = image_upload(lambda image: received.append(image))
    path = find_images(IMAGENET_SAMPLE / "train")[0]
    widget.children[0].value = upload_value(path.name, path.read_bytes())
    assert len(received) == 1 and isinstance(received[0], Image.Image) and received[0].mode == "RGB"
    with Image.open(path) as original:
        assert received[0].size == original.size


def test_a_bad_upload_gives_a_message_not_a_traceback(capsys):
    received = []
    widget = image_upload(lambda image: received.append(image))
    widget.children[0].value = upload_value("notes.jpg", b"not an image")
    assert received == []
    assert "Could not search: the uploaded file is not an image" in capsys.readouterr().out


def test_text_box_passes_the_text_and_reports_errors(capsys):
    received = []

    def on_text(text):
        if not text.strip():
            raise InputError("Empty text query")
        received.append(text)

    widget = text_search_box(on_text)
    box, button = widget.children[0].children
    box.value = "a white dog"
    button.click()
    assert received == ["a white dog", "a white dog"]
    box.value = " "
    assert "Could not search: Empty text query" in capsys.readouterr().out
