"""The upload and text-box widgets call back with what the reader gave them."""

from __future__ import annotations

import sys
from datetime import datetime, timezone

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from PIL import Image  # noqa: E402

from helpers.errors import InputError  # noqa: E402
from helpers.images import find_images  # noqa: E402
from helpers.interactive import image_upload, text_search_box  # noqa: E402

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


def test_a_bad_upload_gives_a_message_not_a_traceback():
    received = []
    widget = image_upload(lambda image: received.append(image))
    widget.children[0].value = upload_value("notes.jpg", b"not an image")
    assert received == []
    (shown,) = widget.children[1].outputs
    assert shown["name"] == "stdout" and shown["text"].startswith("Could not search: the uploaded file is not an image")


def test_text_box_passes_the_text_and_reports_errors():
    received = []

    def on_text(text):
        if not text.strip():
            raise InputError("Empty text query")
        received.append(text)
        print("a note on stderr", file=sys.stderr)
        figure, _ = plt.subplots()
        return figure

    widget = text_search_box(on_text)
    box, button = widget.children[0].children
    box.value = "a white dog"
    button.click()
    assert received == ["a white dog", "a white dog"]
    output = widget.children[1]
    assert [shown["output_type"] for shown in output.outputs] == ["stream", "display_data"]  # the last search only
    assert output.outputs[0] == {"output_type": "stream", "name": "stderr", "text": "a note on stderr\n"}
    assert "Figure" in output.outputs[1]["data"]["text/plain"]  # a PNG too in a kernel with the inline backend
    box.value = " "
    assert output.outputs == ({"output_type": "stream", "name": "stdout", "text": "Could not search: Empty text query\n"},)
