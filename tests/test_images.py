"""Readers' own folders: every kind of image comes out upright RGB and indexed; every bad file is skipped with a reason.

All files are real, written here with Pillow (or by hand where Pillow cannot write the format) and decoded by
Pillow through helpers.images; indexing goes into real Milvus Lite files. The images are tiny so the whole
module runs in seconds, and so that Pillow's decompression-bomb limit can be lowered in-process to test it.
"""

from __future__ import annotations

import io
import struct
import subprocess
import threading
import warnings
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pillow_heif
import pytest
from PIL import Image

from helpers import config
from helpers.collection import CollectionError, create_with_schema
from helpers.tool.searching import count, search
from helpers.tool.connecting import connect
from helpers.indexing import stored_paths
from helpers.errors import InputError
from helpers.images import ImageError, find_images, load_rgb
from helpers.indexing import index_folder
from helpers.results import hit_path

BOMB_LIMIT = 224 * 224  # Image.MAX_IMAGE_PIXELS while the zoo is indexed: 1x..2x warns, over 2x is an error
# (not lower: Pillow checks crops too, and the models crop every image to 224x224)
BLUE, RED, GREEN, WHITE = (0, 0, 255), (255, 0, 0), (0, 255, 0), (255, 255, 255)
ORIENTATION = 0x0112


def noise(width: int, height: int, seed: int) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8))


def jpeg_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=95)
    return buffer.getvalue()


def marked(width: int = 32, height: int = 16) -> Image.Image:
    """Blue, with a red block in the top-left quarter: where the block ends up shows the orientation."""
    image = Image.new("RGB", (width, height), BLUE)
    image.paste(RED, (0, 0, width // 2, height // 2))
    return image


def save_with_orientation(image: Image.Image, path: Path, orientation: int) -> Path:
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    image.save(path, exif=exif, quality=95)
    return path


def gradient16(width: int = 256) -> np.ndarray:
    """A 16-bit grey ramp 0..65535 over `width` columns, 4 rows."""
    return np.tile(np.linspace(0, 65535, width).round().astype(np.uint16), (4, 1))


def write_png16_rgb(path: Path, array: np.ndarray) -> Path:
    """A 48-bit RGB PNG written by hand (Pillow reads these but cannot write them)."""
    height, width, _ = array.shape
    raw = b"".join(b"\x00" + row.astype(">u2").tobytes() for row in array)

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw))
                     + chunk(b"IEND", b""))
    return path


def corrupt_huffman_table(data: bytes) -> bytes:
    """A JPEG whose header parses but whose Huffman table is nonsense: decoding fails."""
    start = data.index(b"\xff\xc4")
    return data[:start + 5] + b"\xff" * 16 + data[start + 21:]


def rgba_image() -> Image.Image:
    image = Image.new("RGBA", (4, 4), (255, 0, 0, 0))  # fully transparent red
    image.putpixel((1, 1), (0, 0, 255, 255))  # opaque blue
    image.putpixel((2, 2), (0, 0, 0, 128))  # half-transparent black
    return image


def palette_image() -> Image.Image:
    image = Image.new("P", (4, 4), 0)
    image.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)  # index 0 red, index 1 green
    image.putpixel((1, 1), 1)
    return image


# --------------------------------------------------------------------------------------------------------------
# The zoo: one folder with every case, indexed once for the module.

GOOD = {  # relative path -> what it is (all at most BOMB_LIMIT pixels)
    "rgba.png": "RGBA with transparent pixels",
    "rgba.webp": "lossless WebP with alpha",
    "palette.png": "palette without transparency",
    "palette_transparent.png": "palette with a transparent index",
    "palette_transparent.gif": "GIF with a transparent index",
    "animated.gif": "two-frame GIF",
    "grey_alpha.png": "LA",
    "grey.png": "L",
    "bilevel.bmp": "1-bit BMP",
    "cmyk.jpg": "CMYK JPEG",
    "grey16.png": "16-bit grey PNG",
    "rgb16.png": "48-bit RGB PNG",
    "exif6.jpg": "EXIF Orientation 6",
    "exif8.jpg": "EXIF Orientation 8",
    "one_pixel.png": "1x1",
    "at_the_limit.png": "exactly MAX_IMAGE_PIXELS pixels",
    "upper.JPEG": "", "lower.jpeg": "", "upper.JPG": "", "lower.jpg": "", "upper.PNG": "",
    "upper.GIF": "", "lower.gif": "", "upper.WEBP": "", "lower.webp": "", "upper.BMP": "", "lower.bmp": "",
    "a/b/c/deep.png": "nested folders",
    "folder.jpg/inside.png": "a folder whose name looks like an image",
    "My Photos/Ünïcödé ñame 白い犬 🐶.png": "spaces and non-ASCII",
    "iphone.heic": "HEIC, as an iPhone saves it (written by pillow-heif)",
    "scan.tif": "TIFF", "scan_lzw.TIFF": "LZW-compressed TIFF",
}
BAD = {  # relative path -> words the reason must contain
    "truncated.jpg": "truncated",
    "corrupt.jpg": "corrupt",
    "corrupt_header.jpg": "not an image",
    "empty.jpg": "empty file (0 bytes)",
    "notes.png": "not an image Pillow can read",
    "bomb_warning.png": "too large to decode safely",
    "bomb_error.png": "too large to decode safely",
    "dangling.jpg": "no such file",
}
IGNORED = ["README.txt", "labels.csv", "photo.jpg.bak", ".DS_Store", "Thumbs.db", "png_without_extension",
           "sub/notes.md"]


def build_zoo(root: Path) -> None:
    def path(relative: str) -> Path:
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    rgba_image().save(path("rgba.png"))
    rgba_image().save(path("rgba.webp"), lossless=True)
    palette_image().save(path("palette.png"))
    palette_image().save(path("palette_transparent.png"), transparency=0)
    palette_image().save(path("palette_transparent.gif"), transparency=0)
    noise(8, 8, 1).save(path("animated.gif"), save_all=True, append_images=[noise(8, 8, 2)], duration=100)
    Image.new("LA", (4, 4), (0, 0)).save(path("grey_alpha.png"))
    Image.fromarray(np.arange(64, dtype=np.uint8).reshape(8, 8) * 4).save(path("grey.png"))
    Image.new("1", (8, 8), 1).save(path("bilevel.bmp"))
    Image.new("CMYK", (16, 16), (0, 255, 255, 0)).save(path("cmyk.jpg"), quality=95)
    Image.fromarray(gradient16()).save(path("grey16.png"))
    write_png16_rgb(path("rgb16.png"), np.stack([gradient16()] * 3, axis=-1))
    save_with_orientation(marked(), path("exif6.jpg"), 6)
    save_with_orientation(marked(), path("exif8.jpg"), 8)
    Image.new("RGB", (1, 1), GREEN).save(path("one_pixel.png"))
    Image.new("RGB", (224, 224), GREEN).save(path("at_the_limit.png"))
    for seed, name in enumerate(["upper.JPEG", "lower.jpeg", "upper.JPG", "lower.jpg", "upper.PNG", "upper.GIF",
                                 "lower.gif", "upper.WEBP", "lower.webp", "upper.BMP", "lower.bmp"], start=10):
        noise(16, 12, seed).save(path(name), format=Image.registered_extensions()[Path(name).suffix.lower()])
    for seed, name in enumerate(["a/b/c/deep.png", "folder.jpg/inside.png", "My Photos/Ünïcödé ñame 白い犬 🐶.png"],
                                start=30):
        noise(16, 12, seed).save(path(name))
    pillow_heif.from_pillow(noise(16, 12, 33)).save(path("iphone.heic"), quality=90)
    noise(16, 12, 34).save(path("scan.tif"))
    noise(16, 12, 35).save(path("scan_lzw.TIFF"), compression="tiff_lzw")

    photo = jpeg_bytes(noise(24, 24, 40))
    path("truncated.jpg").write_bytes(photo[:len(photo) // 2])
    path("corrupt.jpg").write_bytes(corrupt_huffman_table(photo))
    path("corrupt_header.jpg").write_bytes(photo[:20] + bytes(np.random.default_rng(0).integers(0, 256, 500,
                                                                                                dtype=np.uint8)))
    path("empty.jpg").write_bytes(b"")
    path("notes.png").write_text("shopping list: eggs, milk\n")
    Image.new("RGB", (250, 250), RED).save(path("bomb_warning.png"))  # 62,500 pixels: between 1x and 2x the limit
    Image.new("RGB", (320, 320), RED).save(path("bomb_error.png"))  # 102,400 pixels: over 2x the limit
    path("dangling.jpg").symlink_to(root / "deleted-long-ago.jpg")

    for name in IGNORED:
        path(name).write_text("not an image")
    path("png_without_extension").write_bytes(path("one_pixel.png").read_bytes())
    (root / "a" / "b" / "loop").symlink_to(root, target_is_directory=True)  # a link back up: a loop


@pytest.fixture(scope="module")
def zoo(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("zoo")
    build_zoo(root)
    return root


@pytest.fixture(scope="module")
def indexed(zoo, resnet34, tmp_path_factory):
    """The zoo indexed once, with Pillow's decompression-bomb limit lowered to BOMB_LIMIT pixels."""
    client = connect(str(tmp_path_factory.mktemp("zoo-db") / "zoo.db"))
    files = find_images(zoo)
    assert len(files) < 64  # one chunk, decoded in this process: the patched limit applies to every file
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Image, "MAX_IMAGE_PIXELS", BOMB_LIMIT)
        report = index_folder(client, "zoo", resnet34, zoo, batch_size=64, progress=False)
    return client, report


def stored_vector(client, path: Path) -> np.ndarray:
    rows = client.query("zoo", filter=f'filepath == "{path}"', output_fields=["vector"])
    assert len(rows) == 1, f"{path} is stored {len(rows)} times"
    return np.asarray(rows[0]["vector"], dtype=np.float32)


# --------------------------------------------------------------------------------------------------------------
# Finding and indexing


def test_find_images_lists_each_image_file_once_whatever_the_case_of_its_extension(zoo):
    found = find_images(zoo)
    assert len(found) == len(set(found))  # the link back up did not make the walk visit anything twice
    assert {str(path.relative_to(zoo)) for path in found} == set(GOOD) | set(BAD)


def test_every_decodable_image_is_indexed_once_with_its_exact_path(indexed, zoo):
    client, report = indexed
    assert report.indexed == len(GOOD) and report.already_indexed == 0
    assert count(client, "zoo") == len(GOOD)
    assert stored_paths(client, "zoo") == {str(zoo / name) for name in GOOD}


@pytest.mark.parametrize("name", sorted(BAD))
def test_a_bad_file_is_skipped_with_its_reason_and_the_run_goes_on(indexed, zoo, name):
    _, report = indexed
    reasons = dict(report.skipped)
    assert str(zoo / name) in reasons, f"{name} was not reported as skipped"
    assert BAD[name] in reasons[str(zoo / name)]
    assert str(zoo / name) in report.summary()


def test_every_other_file_is_reported_as_not_an_image_with_its_extension(indexed, zoo):
    _, report = indexed
    others = IGNORED  # png_without_extension among them
    assert {path for path, _ in report.skipped} == {str(zoo / name) for name in [*BAD, *others]}
    reasons = dict(report.skipped)
    assert reasons[str(zoo / "README.txt")] == "not an image (Pillow reads no .txt files)"
    assert reasons[str(zoo / "photo.jpg.bak")] == "not an image (Pillow reads no .bak files)"
    assert reasons[str(zoo / "png_without_extension")] == reasons[str(zoo / ".DS_Store")] == "not an image (no extension)"
    summary = report.summary()
    assert f"Skipped {len(BAD) + len(others)} files:" in summary
    assert all(f"{zoo / name}: not an image" in summary for name in others)


def test_heic_and_tiff_photos_find_themselves_first(indexed, zoo, resnet34):
    client, _ = indexed
    for name in ["iphone.heic", "scan.tif", "scan_lzw.TIFF"]:
        [best] = search(client, "zoo", resnet34.embed_image(zoo / name), top_k=1)
        assert hit_path(best) == str(zoo / name)


def test_every_format_pillow_decodes_counts_as_an_image_and_only_those(tmp_path):
    from helpers.images import image_extensions

    assert {".jpg", ".png", ".tif", ".tiff", ".heic", ".heif", ".webp", ".avif", ".jp2"} <= image_extensions()
    assert not {".pdf", ".mpg", ".h5", ".txt", ""} & image_extensions()  # written only, video, a plug-in's, text


def test_a_non_ascii_path_comes_back_from_milvus_unchanged(indexed, zoo, resnet34):
    client, _ = indexed
    image = zoo / "My Photos/Ünïcödé ñame 白い犬 🐶.png"
    hits = search(client, "zoo", resnet34.embed_image(image), top_k=1)
    assert hit_path(hits[0]) == str(image) and hits[0]["distance"] == pytest.approx(1.0, abs=1e-4)


@pytest.mark.parametrize("orientation, turn", [(6, -1), (8, 1)])
def test_an_exif_rotated_photo_is_indexed_upright(indexed, zoo, resnet34, tmp_path, orientation, turn):
    client, _ = indexed
    plain = tmp_path / "same_pixels_without_exif.jpg"
    marked().save(plain, quality=95)  # the same JPEG pixels, no orientation tag
    stored_pixels = np.asarray(Image.open(plain).convert("RGB"))
    upright = Image.fromarray(np.ascontiguousarray(np.rot90(stored_pixels, k=turn)))
    vector = stored_vector(client, zoo / f"exif{orientation}.jpg")
    np.testing.assert_allclose(vector, resnet34.embed_image(upright), atol=1e-4)
    assert not np.allclose(vector, resnet34.embed_image(plain), atol=1e-3)  # sideways would be another vector


def test_a_16_bit_image_is_indexed_as_its_gradient_not_as_white(indexed, zoo, resnet34):
    client, _ = indexed
    eight_bit = Image.fromarray(np.rint(gradient16() / 257).astype(np.uint8))
    vector = stored_vector(client, zoo / "grey16.png")
    np.testing.assert_allclose(vector, resnet34.embed_image(eight_bit), atol=1e-4)
    assert not np.allclose(vector, resnet34.embed_image(Image.new("L", (256, 4), 255)), atol=1e-3)


def test_indexing_the_zoo_again_adds_nothing_and_reports_the_bad_files_again(indexed, zoo, resnet34):
    client, _ = indexed
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Image, "MAX_IMAGE_PIXELS", BOMB_LIMIT)
        again = index_folder(client, "zoo", resnet34, zoo, batch_size=64, progress=False)
    assert (again.indexed, again.already_indexed, len(again.skipped)) == (0, len(GOOD), len(BAD) + len(IGNORED))
    assert count(client, "zoo") == len(GOOD)


# --------------------------------------------------------------------------------------------------------------
# Decoding, pixel by pixel


def test_transparency_is_laid_over_white(zoo):
    for name in ["rgba.png", "rgba.webp"]:
        pixels = np.asarray(load_rgb(zoo / name))
        assert tuple(pixels[0, 0]) == WHITE  # transparent red is white, not red and not black
        assert tuple(pixels[1, 1]) == BLUE
        assert all(abs(int(value) - 127) <= 1 for value in pixels[2, 2])  # half-transparent black: grey
    for name in ["palette_transparent.png", "palette_transparent.gif"]:
        pixels = np.asarray(load_rgb(zoo / name))
        assert tuple(pixels[0, 0]) == WHITE and tuple(pixels[1, 1]) == GREEN
    opaque = np.asarray(load_rgb(zoo / "palette.png"))
    assert tuple(opaque[0, 0]) == RED and tuple(opaque[1, 1]) == GREEN
    assert tuple(np.asarray(load_rgb(zoo / "grey_alpha.png"))[0, 0]) == WHITE


def test_every_mode_comes_out_as_rgb(zoo):
    for name in GOOD:
        image = load_rgb(zoo / name)
        assert image.mode == "RGB", name
    grey = np.asarray(load_rgb(zoo / "grey.png")).astype(int)
    assert (grey[..., 0] == grey[..., 1]).all() and (grey[..., 1] == grey[..., 2]).all()
    assert grey[0, 1, 0] == 4 and grey[7, 7, 0] == 252
    assert tuple(np.asarray(load_rgb(zoo / "bilevel.bmp"))[0, 0]) == WHITE
    assert load_rgb(zoo / "animated.gif").size == (8, 8)


def test_a_cmyk_jpeg_keeps_its_colour(zoo):
    red, green, blue = (int(value) for value in np.asarray(load_rgb(zoo / "cmyk.jpg"))[8, 8])
    assert red > 240 and green < 15 and blue < 15  # CMYK (0, 255, 255, 0) is red, not inverted cyan


@pytest.mark.parametrize("name", ["grey16.png", "rgb16.png"])
def test_16_bit_images_are_scaled_to_8_bits_not_clipped_to_white(zoo, name):
    assert Image.open(zoo / name).mode in {"I;16", "I", "RGB"}
    row = np.asarray(load_rgb(zoo / name))[0, :, 0].astype(int)
    assert row[0] == 0 and row[-1] == 255
    assert (np.diff(row) >= 0).all() and len(set(row.tolist())) > 200  # still a ramp
    assert abs(row[128] - 128) <= 1  # 32896/65535 of the way: mid grey


def test_mid_grey_32768_becomes_128(tmp_path):
    Image.fromarray(np.full((4, 4), 32768, dtype=np.uint16)).save(tmp_path / "mid.png")
    assert set(np.asarray(load_rgb(tmp_path / "mid.png")).ravel().tolist()) == {128}


@pytest.mark.parametrize("orientation, red_corner", [(6, "top-right"), (8, "bottom-left")])
def test_exif_orientation_turns_the_photo_upright(zoo, orientation, red_corner):
    image = load_rgb(zoo / f"exif{orientation}.jpg")
    assert image.size == (16, 32)  # stored 32 wide and 16 high, shown 16 wide and 32 high
    pixels = np.asarray(image).astype(int)
    corners = {"top-left": pixels[2, 2], "top-right": pixels[2, -3],
               "bottom-left": pixels[-3, 2], "bottom-right": pixels[-3, -3]}
    for corner, (red, _, blue) in corners.items():
        assert (red > 200 and blue < 50) if corner == red_corner else (red < 50 and blue > 200), corner


def test_a_one_pixel_image(zoo):
    image = load_rgb(zoo / "one_pixel.png")
    assert image.size == (1, 1) and image.getpixel((0, 0)) == GREEN


def test_a_pil_image_is_turned_upright_too(zoo):
    with Image.open(zoo / "exif6.jpg") as image:
        assert load_rgb(image).size == (16, 32)


def test_a_large_jpeg_decodes_to_the_same_pixels_by_path_and_as_an_opened_image(tmp_path):
    noise(800, 600, 5).save(tmp_path / "big.jpg")
    by_path = load_rgb(tmp_path / "big.jpg")
    with Image.open(tmp_path / "big.jpg") as image:
        opened = load_rgb(image)
    assert by_path.size == (800, 600) and np.array_equal(np.asarray(by_path), np.asarray(opened))


@pytest.mark.parametrize("name", sorted(BAD))
def test_load_rgb_raises_image_error_naming_the_file(zoo, monkeypatch, name):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", BOMB_LIMIT)
    with pytest.raises(ImageError) as raised:
        load_rgb(zoo / name)
    assert str(raised.value).startswith(str(zoo / name)) and BAD[name] in str(raised.value)


def test_the_bomb_is_refused_while_other_threads_change_the_warning_filters(zoo, monkeypatch):
    """Warning filters are process-wide: decoding threads, the model's or the reader's code may enter and leave
    `warnings.catch_warnings()` meanwhile, and no filter may decide what gets indexed."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", BOMB_LIMIT)
    names = ["bomb_warning.png", "at_the_limit.png", "lower.jpg", "rgb16.png"] * 100
    done = threading.Event()

    def meddle() -> None:
        while not done.is_set():
            with warnings.catch_warnings():
                warnings.simplefilter("default")

    def outcome(name: str) -> str:
        try:
            load_rgb(zoo / name)
            return "decoded"
        except ImageError as error:
            return str(error)

    meddler = threading.Thread(target=meddle)
    meddler.start()
    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            outcomes = list(pool.map(outcome, names))
    finally:
        done.set()
        meddler.join()
    for name, result in zip(names, outcomes):
        assert (BAD[name] in result) if name in BAD else result == "decoded", (name, result)


def test_the_bomb_limit_is_pillows_own_outside_the_test(zoo):
    """Without the lowered limit both 'bombs' are ordinary small images: the limit, not the file, refused them."""
    assert load_rgb(zoo / "bomb_warning.png").size == (250, 250)
    assert load_rgb(zoo / "bomb_error.png").size == (320, 320)


# --------------------------------------------------------------------------------------------------------------
# Walking folders


def test_symlink_loops_do_not_hang_the_walk(tmp_path):
    root = tmp_path / "photos"
    for name in ["a/one.png", "a/b/two.png", "x/three.png", "y/four.png"]:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        noise(4, 4, 0).save(root / name)
    (root / "a" / "b" / "up").symlink_to(root / "a", target_is_directory=True)  # a/b/up -> a
    (root / "a" / "b" / "top").symlink_to(root, target_is_directory=True)  # a/b/top -> photos
    (root / "x" / "to_y").symlink_to(root / "y", target_is_directory=True)  # x -> y ...
    (root / "y" / "to_x").symlink_to(root / "x", target_is_directory=True)  # ... -> x
    (root / "self.jpg").symlink_to(root / "self.jpg")  # a link to itself
    result: list = []
    walker = threading.Thread(target=lambda: result.append(find_images(root)), daemon=True)
    walker.start()
    walker.join(timeout=20)
    assert not walker.is_alive(), "find_images did not finish within 20 s: the walk loops"
    found = result[0]
    assert len(found) == len(set(found))
    assert sorted(path.name for path in found) == ["four.png", "one.png", "self.jpg", "three.png", "two.png"]
    with pytest.raises(ImageError, match="no such file"):
        load_rgb(root / "self.jpg")


def test_a_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(InputError, match="is not a folder"):
        find_images(tmp_path / "nowhere")


def make_folder(tmp_path: Path, kind: str) -> Path:
    folder = tmp_path / kind
    folder.mkdir()
    if kind == "no_images":
        (folder / "README.txt").write_text("nothing to see")
        (folder / "sub").mkdir()
        (folder / "sub" / "labels.csv").write_text("a,b\n")
    elif kind == "no_valid_image":
        (folder / "empty.jpg").write_bytes(b"")
        (folder / "notes.png").write_text("not a picture")
        (folder / "half.jpg").write_bytes(jpeg_bytes(noise(24, 24, 1))[:300])
    return folder


@pytest.mark.parametrize("kind, message", [
    ("empty", "No images found in"),
    ("no_images", "No images found in"),
    ("no_valid_image", "None of the 3 image files in"),
])
def test_a_folder_without_usable_images_is_one_clear_value_error(tmp_path, resnet34, kind, message):
    folder = make_folder(tmp_path, kind)
    client = connect(str(tmp_path / "x.db"))
    with pytest.raises(ValueError) as raised:
        index_folder(client, "images", resnet34, folder, progress=False)
    text = str(raised.value)
    assert text.startswith(message) and "\n" not in text
    if kind == "no_valid_image":
        assert "empty file (0 bytes)" in text and "not an image Pillow can read" in text and "truncated" in text
    assert not client.has_collection("images") or count(client, "images") == 0


def error_lines(result: subprocess.CompletedProcess) -> list[str]:
    """stderr without the offline notice (printed there in offline mode)."""
    return [line for line in result.stderr.splitlines() if line.strip() and line != config.OFFLINE_NOTICE]


@pytest.mark.parametrize("kind, message", [
    ("empty", "error: No images found in"),
    ("no_valid_image", "error: None of the 3 image files in"),
])
def test_the_cli_on_a_folder_without_usable_images_exits_2_with_one_line(cli, tmp_path, kind, message):
    folder = make_folder(tmp_path, kind)
    result = cli("index", str(folder), "--db", str(tmp_path / "x.db"))
    assert result.returncode == 2
    lines = error_lines(result)
    assert len(lines) == 1 and lines[0].startswith(message), result.stderr
    assert "Traceback" not in result.stderr


# --------------------------------------------------------------------------------------------------------------
# Paths longer than the collection allows


def test_a_path_longer_than_the_varchar_limit_stops_the_run_before_anything_is_inserted(tmp_path, resnet34):
    folder = tmp_path / "photos"
    folder.mkdir()
    for index in range(9):
        noise(8, 8, index).save(folder / f"short{index}.png")
    deep = folder / ("z" + "d" * 120) / ("e" * 120)  # sorted last, so it would fall in a later chunk
    deep.mkdir(parents=True)
    noise(8, 8, 99).save(deep / "long.png")
    long_path = str(deep / "long.png")
    assert len(long_path.encode()) > 200
    client = connect(str(tmp_path / "x.db"))
    create_with_schema(client, "paintings", resnet34.dim, path_max_length=200, index_params={"nlist": 16},
                       model=resnet34.model_id, recreate=True)
    with pytest.raises(CollectionError) as raised:
        # batch_size=2: chunks of 8 images, so the long path is in the second chunk
        index_folder(client, "paintings", resnet34, folder, vector_field="image_embedding", batch_size=2,
                     progress=False)
    assert long_path in str(raised.value) and "max_length=200" in str(raised.value)
    assert "Nothing was inserted" in str(raised.value)
    assert count(client, "paintings") == 0
    assert stored_paths(client, "paintings") == set()


def test_multibyte_characters_count_as_bytes_against_the_limit(tmp_path, resnet34):
    folder = tmp_path / "犬"
    name = "白い犬" * 20 + ".png"  # 64 characters, 184 bytes
    folder.mkdir()
    noise(8, 8, 0).save(folder / name)
    path = str(folder / name)
    assert len(path) < 200 < len(path.encode())
    client = connect(str(tmp_path / "x.db"))
    create_with_schema(client, "c", resnet34.dim, path_max_length=200, index_params={"nlist": 16},
                       model=resnet34.model_id, recreate=True)
    with pytest.raises(CollectionError, match="max_length=200"):
        index_folder(client, "c", resnet34, folder, vector_field="image_embedding", progress=False)
    assert count(client, "c") == 0


def test_an_images_class_is_the_folder_it_is_in_also_when_folders_nest(tmp_path):
    """One class-label rule (results.label_of), for the gallery a folder holds and for a hit's stored path."""
    from helpers.images import labelled_images
    from helpers.results import hit_label, label_of

    for relative in ("cats/1.png", "cats/indoor/2.png", "cats/indoor/deeper/3.png", "loose.png"):
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (4, 4)).save(tmp_path / relative)
    labelled = {str(path.relative_to(tmp_path)): label for path, label in labelled_images(tmp_path)}
    assert labelled == {"cats/1.png": "cats", "cats/indoor/2.png": "indoor", "cats/indoor/deeper/3.png": "deeper"}
    assert all(label_of(tmp_path / path) == label for path, label in labelled.items())  # loose.png has no class
    assert hit_label({"entity": {"filepath": str(tmp_path / "cats/indoor/2.png")}}) == "indoor"
