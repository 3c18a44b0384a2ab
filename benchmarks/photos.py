"""Seeded photo-like JPEGs from one generator: the offline samples in helpers/samples/ and the benchmarks' images.

Each image is a smooth colour field with shapes, texture and sensor-like grain, so a JPEG decoder works about as
hard as on real photos (flat synthetic images decode much faster). A class (or painter) is a `Look`, drawn from
its own seed: a palette, a kind of shape and their sizes. Images of one class share their look and differ in
everything else, so classes stay apart and each image is new.

    python benchmarks/photos.py            # delete and rewrite helpers/samples/ (see data/README.md)
    python benchmarks/photos.py --out DIR  # write somewhere else

`make_images` writes the benchmarks' JPEGs (500x375 unless told), a class for every ten.
"""

from __future__ import annotations

import argparse
import colorsys
import hashlib
import io
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

SEED = 20240611
SAMPLES_DIR = Path(__file__).resolve().parent.parent / "helpers" / "samples"  # shipped in the package
JPEG_OPTIONS = dict(format="JPEG", quality=85, subsampling=2, optimize=False, progressive=False)  # no metadata
LANDSCAPE = [(320, 240), (320, 213), (300, 225), (320, 256), (288, 216)]  # samples: small, like real photos
PORTRAIT = [(240, 320), (213, 320), (225, 300)]

# The real datasets' folder names: ImageNet's WordNet ids, the painters. The notebook's query keeps its number.
CLASSES = {"Afghan_hound": "n02088094", "Bouvier_des_Flandres": "n02106382", "goldfish": "n01443537",
           "ambulance": "n02701002", "castle": "n02980441", "bannister": "n02788148", "loudspeaker": "n03691459",
           "comic_book": "n06596364"}
FIXED_TEST_NUMBERS = {"Afghan_hound": 4261}
PAINTERS = ("Monet", "VanGogh", "Renoir", "Degas", "Cezanne")
TRAIN_PER_CLASS, GALLERY_PER_PAINTER = 10, 4  # and one query each
SHAPES = ("ellipse", "rectangle", "stroke")
IMAGENET_KEY, PAINTINGS_KEY, BENCHMARK_KEY = 1, 2, 3  # keep the three families' seeds apart


@dataclass(frozen=True)
class Look:
    """What the images of one class share."""

    palette: np.ndarray  # (5, 3) colours, the first the background's
    shape: str  # "ellipse", "rectangle" or "stroke"
    shapes: tuple[int, int]  # how many, low and high
    extent: tuple[float, float]  # a shape's size as a share of the image's width, low and high
    blur: float


def look_for(*keys: int, hue: float | None = None, shape: str | None = None) -> Look:
    """The look of the class named by `keys`, the same on every run; `hue` (0 to 1) sets its background's
    colour, so classes given hues apart stay apart, and `shape` its kind of shape (else both are drawn)."""
    rng = np.random.default_rng([SEED, *keys])
    hue = float(rng.random()) if hue is None else hue
    background = colorsys.hsv_to_rgb(hue, rng.uniform(0.5, 0.9), rng.uniform(0.5, 0.9))
    palette = np.vstack([np.array(background) * 255, rng.integers(0, 256, (4, 3))]).astype(np.float32)
    shape = shape or SHAPES[int(rng.integers(len(SHAPES)))]
    many = shape == "stroke"
    return Look(palette=palette, shape=shape, shapes=(300, 600) if many else (5, 15),
                extent=(0.02, 0.1) if many else (0.05, 0.4), blur=float(rng.uniform(0.8, 1.8)))


def photo(rng: np.random.Generator, size: tuple[int, int], look: Look, grain: float = 7.0) -> Image.Image:
    """One image of `size` (width, height) in `look`, its variation drawn from `rng`."""
    width, height = size
    palette = np.clip(look.palette + rng.normal(0, 12, look.palette.shape), 0, 255)
    cells = palette[rng.choice(len(palette), (6, 8), p=[0.6, 0.1, 0.1, 0.1, 0.1])]
    field = cells + rng.normal(0, 20, cells.shape)
    image = Image.fromarray(np.clip(field, 0, 255).astype(np.uint8)).resize(size, Image.BICUBIC)
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(*look.shapes))):
        x0, y0 = float(rng.uniform(0, width)), float(rng.uniform(0, height))
        dx, dy = rng.uniform(*look.extent, 2) * width
        colour = tuple(int(c) for c in np.clip(palette[int(rng.integers(1, len(palette)))] + rng.normal(0, 15, 3),
                                               0, 255))
        if look.shape == "stroke":
            draw.line([(x0, y0), (x0 + dx, y0 + dy / 3)], fill=colour, width=int(rng.integers(2, 7)))
        else:
            (draw.ellipse if look.shape == "ellipse" else draw.rectangle)([x0, y0, x0 + dx, y0 + dy], fill=colour)
    pixels = np.asarray(image.filter(ImageFilter.GaussianBlur(look.blur)), dtype=np.float32)
    texture = (rng.random((max(1, height // 4), max(1, width // 4))) * 255).astype(np.uint8)
    texture = np.asarray(Image.fromarray(texture).resize(size, Image.BILINEAR), dtype=np.float32)
    pixels += (texture[..., None] - 128) * 0.25 + rng.normal(0, grain, pixels.shape)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def make_images(folder: Path, count: int, seed: int = 0, size: tuple[int, int] = (500, 375),
                shape: str | None = None) -> list[Path]:
    """`count` seeded JPEGs of `size` (width, height; a quarter of them portrait), quality 90, a class of ten
    images for every ten, named as in ImageNet (`n0003_00031.JPEG` is of class `n0003`); `shape` sets the kind
    of shape of every class ("stroke" for paintings), else each class draws its own."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        rng = np.random.default_rng([seed, index])
        oriented = size if rng.random() < 0.75 else size[::-1]
        path = folder / f"n{index // 10:04d}_{index:05d}.JPEG"
        photo(rng, oriented, look_for(BENCHMARK_KEY, seed, index // 10, shape=shape)).save(path, quality=90)
        paths.append(path)
    return paths


# ---------------------------------------------------------------------------------------------------
# The offline samples, in the real datasets' layout.

def _save(image: Image.Image, path: Path) -> None:
    """Without any metadata: the bytes depend on the pixels only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    image.save(buffer, **JPEG_OPTIONS)
    path.write_bytes(buffer.getvalue())


def _sample(path: Path, look: Look, *keys: int) -> None:
    rng = np.random.default_rng([SEED, *keys])
    sizes = PORTRAIT if rng.random() < 0.3 else LANDSCAPE
    _save(photo(rng, sizes[int(rng.integers(len(sizes)))], look, grain=5.0), path)


def _numbers(rng: np.random.Generator, count: int, taken: set[int]) -> list[int]:
    """Distinct ImageNet-like file numbers, none of them in `taken`."""
    numbers: list[int] = []
    while len(numbers) < count:
        number = int(rng.integers(100, 20000))
        if number not in taken:
            taken.add(number)
            numbers.append(number)
    return numbers


def write_samples(out: Path) -> None:
    """reverse_image_search/{train,test}/<class>/<wnid>_<n>.JPEG (10 + 1 a class) and
    paintings/{paintings,test_paintings}/<painter>/<painter>_<nn>.jpg (4 + 1 a painter), folders rewritten."""
    imagenet, paintings = out / "reverse_image_search", out / "paintings"
    for folder in (imagenet, paintings):
        shutil.rmtree(folder, ignore_errors=True)
    for index, (name, wnid) in enumerate(CLASSES.items()):
        look = look_for(IMAGENET_KEY, index, hue=index / len(CLASSES), shape=SHAPES[index % len(SHAPES)])
        fixed = FIXED_TEST_NUMBERS.get(name)
        numbers = _numbers(np.random.default_rng([SEED, IMAGENET_KEY, index, 0]), TRAIN_PER_CLASS + 1,
                           {fixed} if fixed else set())
        for split, split_numbers in (("train", sorted(numbers[:-1])), ("test", [fixed or numbers[-1]])):
            for image, number in enumerate(split_numbers):
                _sample(imagenet / split / name / f"{wnid}_{number}.JPEG", look, IMAGENET_KEY, index, len(split),
                        image)
    for index, painter in enumerate(PAINTERS):
        look = look_for(PAINTINGS_KEY, index, hue=index / len(PAINTERS), shape="stroke")  # brush strokes
        for number in range(1, GALLERY_PER_PAINTER + 2):
            split = "paintings" if number <= GALLERY_PER_PAINTER else "test_paintings"
            _sample(paintings / split / painter / f"{painter}_{number:02d}.jpg", look, PAINTINGS_KEY, index, number)


def tree_digest(root: Path) -> tuple[str, int, int]:
    """sha256 over (relative path, bytes) of every file, the number of files and their bytes."""
    digest, count, size = hashlib.sha256(), 0, 0
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + hashlib.sha256(data).digest())
        count, size = count + 1, size + len(data)
    return digest.hexdigest(), count, size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Rewrite the offline sample images (seeded).")
    parser.add_argument("--out", type=Path, default=SAMPLES_DIR, help="samples folder (default: helpers/samples)")
    out = parser.parse_args(argv).out.resolve()
    write_samples(out)
    digest, count, size = tree_digest(out)
    print(f"{len(CLASSES)} classes x ({TRAIN_PER_CLASS} + 1), {len(PAINTERS)} painters x ({GALLERY_PER_PAINTER} + 1): "
          f"{count} files, {size / 1e6:.2f} MB in {out}\nsha256 of the tree: {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
