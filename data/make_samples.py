#!/usr/bin/env python3
"""Regenerate the offline sample images under helpers/samples/ (deterministic, seeded).

The images are procedural (numpy + Pillow): every class or painter has its own family look
(palette + pattern type) and every image is a different random variation of it. They are made
by this project and dedicated to the public domain (CC0 1.0); see data/README.md.

Layout written (the folders are deleted and rewritten on every run):

    helpers/samples/reverse_image_search/
        train/<class>/<wnid>_<n>.JPEG         8 classes x 10 images
        test/<class>/<wnid>_<n>.JPEG          8 classes x 1 image
        reverse_image_search.csv              id,path,label for the train images
    helpers/samples/paintings/
        paintings/<painter>/<painter>_<nn>.jpg      5 painters x 4 images (gallery)
        test_paintings/<painter>/<painter>_<nn>.jpg 5 painters x 1 image (queries)

Usage:  python data/make_samples.py [--out DIR]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import shutil
import sys
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

SEED = 20240611
JPEG_OPTIONS = dict(format="JPEG", quality=85, subsampling=2, optimize=False, progressive=False)
SAMPLES_DIR = Path(__file__).resolve().parent.parent / "helpers" / "samples"  # shipped in the package

TRAIN_PER_CLASS = 10
TEST_PER_CLASS = 1
GALLERY_PER_PAINTER = 4
QUERIES_PER_PAINTER = 1

# Sizes like real photos, small on disk: mostly landscape, some portrait.
LANDSCAPE = [(320, 240), (320, 213), (300, 225), (320, 256), (288, 216)]
PORTRAIT = [(240, 320), (213, 320), (225, 300)]


# --------------------------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------------------------

def rng_for(*keys: int) -> np.random.Generator:
    """An independent, reproducible generator for one image (or one naming decision)."""
    return np.random.default_rng([SEED, *keys])


def pick_size(rng: np.random.Generator, portrait_chance: float = 0.25) -> tuple[int, int]:
    sizes = PORTRAIT if rng.random() < portrait_chance else LANDSCAPE
    return sizes[int(rng.integers(len(sizes)))]


def grid(w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
    """Normalised coordinates: x in [0, w/h*1), y in [0, 1), shape (h, w)."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    return x / h, y / h


def jitter(rng: np.random.Generator, rgb, amount: float = 18.0) -> np.ndarray:
    return np.clip(np.asarray(rgb, np.float32) + rng.normal(0, amount, 3), 0, 255)


def lerp(a, b, t: np.ndarray) -> np.ndarray:
    a = np.asarray(a, np.float32)
    b = np.asarray(b, np.float32)
    return a + (b - a) * t[..., None]


def smooth_noise(rng: np.random.Generator, w: int, h: int, cells: int = 6) -> np.ndarray:
    """Low-frequency value noise in [0, 1] (bicubic upsampling of a coarse random grid)."""
    cw = max(2, int(round(cells * w / h)))
    coarse = (rng.random((cells, cw)) * 255).astype(np.uint8)
    up = Image.fromarray(coarse, "L").resize((w, h), Image.BICUBIC)
    return np.asarray(up, np.float32) / 255.0


def finish(rng: np.random.Generator, img: np.ndarray, grain: float = 4.0) -> Image.Image:
    """Add a little sensor-like grain and return an RGB image."""
    img = img + rng.normal(0, grain, img.shape[:2])[..., None]
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "RGB")


def soft_mask(d: np.ndarray, edge: float = 0.02) -> np.ndarray:
    """1 inside (d < 0), 0 outside, with a soft edge."""
    return np.clip(0.5 - d / edge, 0.0, 1.0)


# --------------------------------------------------------------------------------------------
# ImageNet-subset classes: one family look each
# --------------------------------------------------------------------------------------------

def afghan_hound(rng: np.random.Generator, w: int, h: int) -> Image.Image:
    """Long silky golden hair: wavy vertical strands on a cream background."""
    x, y = grid(w, h)
    bg = lerp(jitter(rng, (236, 226, 205)), jitter(rng, (196, 184, 160)), y)
    cx = rng.uniform(0.35, 0.65) * w / h
    cy = rng.uniform(0.45, 0.6)
    rx, ry = rng.uniform(0.22, 0.34), rng.uniform(0.3, 0.42)
    body = soft_mask(((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 - 1.0, 0.25)
    freq = rng.uniform(60, 95)
    wave = np.sin(freq * (x + 0.035 * np.sin(rng.uniform(7, 13) * y + rng.uniform(0, 6.3)))
                  + rng.uniform(0, 6.3))
    strands = 0.5 + 0.5 * wave
    light, dark = jitter(rng, (222, 182, 120), 14), jitter(rng, (150, 102, 56), 14)
    hair = lerp(dark, light, strands * (0.65 + 0.35 * smooth_noise(rng, w, h, 4)))
    img = lerp(bg, (0, 0, 0), body) + hair * body[..., None]
    return finish(rng, img, 3.0)


def bouvier_des_flandres(rng: np.random.Generator, w: int, h: int) -> Image.Image:
    """Dark shaggy coat: charcoal blobs with rough texture over a green lawn."""
    x, y = grid(w, h)
    horizon = rng.uniform(0.45, 0.6)
    sky = lerp(jitter(rng, (170, 180, 170)), jitter(rng, (120, 150, 100)), np.clip(y / horizon, 0, 1))
    grass = lerp(jitter(rng, (90, 130, 60)), jitter(rng, (50, 90, 35)), np.clip((y - horizon) / (1 - horizon), 0, 1))
    img = np.where((y < horizon)[..., None], sky, grass)
    coat = np.zeros((h, w), np.float32)
    for _ in range(int(rng.integers(3, 6))):
        bx, by = rng.uniform(0.2, w / h - 0.2), rng.uniform(0.3, 0.8)
        r = rng.uniform(0.12, 0.25)
        coat = np.maximum(coat, soft_mask(np.hypot(x - bx, (y - by) * 1.3) - r, 0.08))
    shag = smooth_noise(rng, w, h, 40) * 0.6 + smooth_noise(rng, w, h, 12) * 0.4
    fur = lerp(jitter(rng, (30, 28, 30), 8), jitter(rng, (95, 90, 88), 10), shag)
    img = img * (1 - coat[..., None]) + fur * coat[..., None]
    return finish(rng, img, 6.0)


def goldfish(rng: np.random.Generator, w: int, h: int) -> Image.Image:
    """Orange blobs (fish) and small bubbles in blue-green water."""
    x, y = grid(w, h)
    water = lerp(jitter(rng, (40, 150, 170)), jitter(rng, (10, 60, 100)), y)
    water = water + 25 * (smooth_noise(rng, w, h, 5)[..., None] - 0.5)
    img = water
    for _ in range(int(rng.integers(1, 4))):
        fx, fy = rng.uniform(0.2, w / h - 0.2), rng.uniform(0.25, 0.75)
        ang = rng.uniform(-0.6, 0.6)
        u = (x - fx) * np.cos(ang) + (y - fy) * np.sin(ang)
        v = -(x - fx) * np.sin(ang) + (y - fy) * np.cos(ang)
        s = rng.uniform(0.7, 1.2)
        bodyd = (u / (0.16 * s)) ** 2 + (v / (0.09 * s)) ** 2 - 1
        tail = soft_mask(np.abs(v) - (-(u + 0.14 * s)) * 0.9, 0.01) * ((u < -0.12 * s) & (u > -0.26 * s))
        fish = np.maximum(soft_mask(bodyd, 0.15), tail)
        col = lerp(jitter(rng, (250, 150, 30), 10), jitter(rng, (220, 80, 20), 10), np.clip(v / (0.09 * s) * 0.5 + 0.5, 0, 1))
        img = img * (1 - fish[..., None]) + col * fish[..., None]
    for _ in range(int(rng.integers(4, 10))):
        bx, by, r = rng.uniform(0, w / h), rng.uniform(0, 1), rng.uniform(0.008, 0.025)
        ring = soft_mask(np.abs(np.hypot(x - bx, y - by) - r) - 0.004, 0.006)
        img = img * (1 - ring[..., None]) + 230 * ring[..., None]
    return finish(rng, img, 3.0)


def ambulance(rng: np.random.Generator, w: int, h: int) -> Image.Image:
    """White van body with a red stripe and a yellow/green check band, on asphalt."""
    x, y = grid(w, h)
    top = rng.uniform(0.12, 0.25)
    bottom = rng.uniform(0.72, 0.85)
    bg = lerp(jitter(rng, (150, 175, 200)), jitter(rng, (80, 80, 85)), y)
    body = ((y > top) & (y < bottom)).astype(np.float32)
    white = jitter(rng, (240, 240, 235), 6)
    img = bg * (1 - body[..., None]) + white * body[..., None]
    band_y = rng.uniform(0.45, 0.6)
    band_h = rng.uniform(0.08, 0.12)
    cell = rng.uniform(0.05, 0.08)
    in_band = (np.abs(y - band_y) < band_h) & (body > 0)
    checks = ((np.floor((x + rng.uniform(0, 1)) / cell) + np.floor((y - band_y) / band_h + 1)) % 2).astype(bool)
    yellow, green = jitter(rng, (245, 215, 30), 8), jitter(rng, (40, 150, 70), 8)
    img = np.where((in_band & checks)[..., None], yellow, img)
    img = np.where((in_band & ~checks)[..., None], green, img)
    red_y = band_y - band_h - rng.uniform(0.06, 0.1)
    red = (np.abs(y - red_y) < 0.025) & (body > 0)
    img = np.where(red[..., None], jitter(rng, (210, 30, 35), 8), img)
    cross_x = rng.uniform(0.25, w / h - 0.25)
    cross_y = top + rng.uniform(0.07, 0.12)
    arm = 0.06
    cross = (((np.abs(x - cross_x) < arm) & (np.abs(y - cross_y) < arm / 3))
             | ((np.abs(x - cross_x) < arm / 3) & (np.abs(y - cross_y) < arm)))
    img = np.where(cross[..., None], jitter(rng, (200, 25, 30), 8), img)
    return finish(rng, img, 3.0)


def castle(rng: np.random.Generator, w: int, h: int) -> Image.Image:
    """Grey stone brick walls with crenellations against a blue sky gradient."""
    x, y = grid(w, h)
    sky = lerp(jitter(rng, (110, 160, 225)), jitter(rng, (200, 220, 240)), y)
    wall_top = rng.uniform(0.3, 0.45)
    merlon = rng.uniform(0.05, 0.08)
    crenel = (np.floor((x + rng.uniform(0, 1)) / merlon) % 2 == 0) & (y > wall_top - 0.06)
    tower_x = rng.uniform(0.1, w / h - 0.3)
    tower = (x > tower_x) & (x < tower_x + rng.uniform(0.18, 0.28)) & (y > wall_top - rng.uniform(0.15, 0.25))
    stone = (y > wall_top) | crenel | tower
    bh = rng.uniform(0.035, 0.05)
    bw = bh * rng.uniform(1.8, 2.4)
    row = np.floor(y / bh)
    xs = x + (row % 2) * bw / 2
    mortar = (np.mod(y, bh) < 0.006) | (np.mod(xs, bw) < 0.006)
    shade = smooth_noise(rng, w, h, 8)
    grey = lerp(jitter(rng, (150, 145, 135), 10), jitter(rng, (105, 100, 95), 10), shade)
    brick_var = rng.normal(0, 10, (int(1 / bh) + 3, int(w / h / bw) + 3))
    bidx = (row.astype(int), np.floor(xs / bw).astype(int))
    grey = grey + brick_var[bidx][..., None]
    grey = np.where(mortar[..., None], grey * 0.7, grey)
    img = np.where(stone[..., None], grey, sky)
    return finish(rng, img, 3.0)


def bannister(rng: np.random.Generator, w: int, h: int) -> Image.Image:
    """Brown wooden balusters: slanted repeating bars with a handrail, wood grain."""
    x, y = grid(w, h)
    wall = lerp(jitter(rng, (235, 225, 205)), jitter(rng, (205, 195, 175)), x / (w / h))
    slope = rng.uniform(-0.5, 0.5)
    period = rng.uniform(0.09, 0.14)
    t = np.mod(x + slope * y + rng.uniform(0, 1), period) / period
    bar = soft_mask(np.abs(t - 0.5) - rng.uniform(0.14, 0.22), 0.05)
    rail_y = rng.uniform(0.08, 0.2)
    rail_line = rail_y + slope * 0.3 * (x - 0.5)
    rail = soft_mask(np.abs(y - rail_line) - 0.04, 0.01)
    grain = 0.5 + 0.5 * np.sin(rng.uniform(120, 200) * (x + 0.3 * y) + 8 * smooth_noise(rng, w, h, 6))
    wood = lerp(jitter(rng, (120, 70, 35), 10), jitter(rng, (170, 110, 60), 10), grain)
    m = np.maximum(bar * (y > rail_y), rail)
    img = wall * (1 - m[..., None]) + wood * m[..., None]
    return finish(rng, img, 3.0)


def loudspeaker(rng: np.random.Generator, w: int, h: int) -> Image.Image:
    """Concentric rings of a speaker cone (one or two drivers) in a dark cabinet."""
    x, y = grid(w, h)
    cab = lerp(jitter(rng, (45, 42, 40), 6), jitter(rng, (25, 24, 24), 6), smooth_noise(rng, w, h, 3))
    img = cab
    n = int(rng.integers(1, 3))
    for i in range(n):
        cx = rng.uniform(0.4, 0.6) * w / h
        cy = (i + 0.5) / n + rng.uniform(-0.05, 0.05)
        R = rng.uniform(0.3, 0.42) / n ** 0.5
        r = np.hypot(x - cx, y - cy) / R
        rings = 0.5 + 0.5 * np.cos(rng.uniform(20, 34) * r + rng.uniform(0, 6.3))
        cone = lerp(jitter(rng, (20, 20, 22), 5), jitter(rng, (120, 118, 115), 10), rings * (1 - 0.6 * r))
        cap = soft_mask(r - 0.22, 0.05)
        cone = cone * (1 - cap[..., None]) + jitter(rng, (160, 160, 165), 10) * cap[..., None]
        inside = soft_mask(r - 1.0, 0.04)
        img = img * (1 - inside[..., None]) + cone * inside[..., None]
    return finish(rng, img, 3.0)


def comic_book(rng: np.random.Generator, w: int, h: int) -> Image.Image:
    """Bright primary-coloured panels with halftone dots and black gutters."""
    x, y = grid(w, h)
    palette = [(230, 40, 45), (250, 215, 40), (40, 110, 210), (245, 245, 240), (60, 180, 90)]
    img = np.empty((h, w, 3), np.float32)
    cols = int(rng.integers(2, 4))
    rows = int(rng.integers(2, 4))
    xs = np.sort(np.concatenate([[0, w], rng.integers(w // 5, 4 * w // 5, cols - 1)]))
    ys = np.sort(np.concatenate([[0, h], rng.integers(h // 5, 4 * h // 5, rows - 1)]))
    px, py = np.mgrid[0:h, 0:w][::-1]
    for i in range(rows):
        for j in range(cols):
            base = jitter(rng, palette[int(rng.integers(len(palette)))], 10)
            dot = jitter(rng, palette[int(rng.integers(len(palette)))], 10)
            pitch = int(rng.integers(7, 12))
            rad = rng.uniform(0.25, 0.45) * pitch
            sel = (py >= ys[i]) & (py < ys[i + 1]) & (px >= xs[j]) & (px < xs[j + 1])
            dots = np.hypot(np.mod(px, pitch) - pitch / 2, np.mod(py, pitch) - pitch / 2) < rad
            img[sel] = base
            img[sel & dots] = dot
    gutter = np.zeros((h, w), bool)
    for v in xs:
        gutter |= np.abs(px - v) < 3
    for v in ys:
        gutter |= np.abs(py - v) < 3
    img[gutter] = (15, 15, 15)
    return finish(rng, img, 2.0)


# (folder name as in the ImageNet subset, WordNet id, generator)
CLASSES: list[tuple[str, str, Callable[[np.random.Generator, int, int], Image.Image]]] = [
    ("Afghan_hound", "n02088094", afghan_hound),
    ("Bouvier_des_Flandres", "n02106382", bouvier_des_flandres),
    ("goldfish", "n01443537", goldfish),
    ("ambulance", "n02701002", ambulance),
    ("castle", "n02980441", castle),
    ("bannister", "n02788148", bannister),
    ("loudspeaker", "n03691459", loudspeaker),
    ("comic_book", "n06596364", comic_book),
]

# The notebook's query image must exist under exactly this name.
FIXED_TEST_NUMBERS = {"Afghan_hound": 4261}


# --------------------------------------------------------------------------------------------
# Paintings: brush-stroke-like random lines, one palette + stroke style per painter
# --------------------------------------------------------------------------------------------

def _stroke_canvas(rng, w, h, ground, palette, n, length, width, angle_fn, blur=0.0, sky=None):
    """Paint n strokes on a toned ground; angle_fn(rng, x, y) gives each stroke's direction."""
    base = np.empty((h, w, 3), np.float32)
    base[:] = jitter(rng, ground, 12)
    if sky is not None:
        top, bottom, horizon = sky
        _, yy = grid(w, h)
        base = np.where((yy < horizon)[..., None], lerp(jitter(rng, top), jitter(rng, bottom), yy / horizon), base)
    canvas = Image.fromarray(base.astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(canvas)
    pal = [jitter(rng, c, 14) for c in palette]
    for _ in range(n):
        px, py = rng.uniform(0, w), rng.uniform(0, h)
        c = pal[int(rng.integers(len(pal)))] + rng.normal(0, 10, 3)
        colour = tuple(int(v) for v in np.clip(c, 0, 255))
        a = angle_fn(rng, px / w, py / h)
        ln = rng.uniform(*length)
        dx, dy = np.cos(a) * ln / 2, np.sin(a) * ln / 2
        draw.line([(px - dx, py - dy), (px + dx, py + dy)], fill=colour, width=int(rng.integers(*width)))
    if blur:
        canvas = canvas.filter(ImageFilter.GaussianBlur(blur))
    arr = np.asarray(canvas, np.float32)
    return finish(rng, arr, 2.0)


def claude_monet(rng, w, h):
    """Pastel water-lily look: short horizontal dabs of blue, green, lilac and pink."""
    return _stroke_canvas(
        rng, w, h, ground=(150, 180, 190),
        palette=[(120, 160, 200), (150, 190, 150), (190, 170, 210), (235, 190, 200), (240, 235, 210), (90, 130, 120)],
        n=int(rng.integers(1600, 2200)), length=(6, 16), width=(3, 6),
        angle_fn=lambda r, px, py: r.normal(0, 0.15), blur=0.6,
        sky=((200, 215, 235), (235, 215, 200), rng.uniform(0.2, 0.4)))


def vincent_van_gogh(rng, w, h):
    """Swirling thick strokes of deep blue and chrome yellow around a few vortices."""
    centres = [(rng.uniform(0.1, 0.9), rng.uniform(0.1, 0.7)) for _ in range(int(rng.integers(2, 4)))]

    def swirl(r, px, py):
        cx, cy = min(centres, key=lambda c: (px - c[0]) ** 2 + (py - c[1]) ** 2)
        return np.arctan2(py - cy, px - cx) + np.pi / 2 + r.normal(0, 0.2)

    return _stroke_canvas(
        rng, w, h, ground=(30, 50, 110),
        palette=[(25, 45, 120), (60, 100, 180), (245, 210, 50), (230, 170, 40), (120, 170, 210), (20, 70, 60)],
        n=int(rng.integers(1400, 1900)), length=(10, 22), width=(3, 6), angle_fn=swirl)


def pierre_auguste_renoir(rng, w, h):
    """Warm, soft, feathery dabs of rose, peach and red, blurred together."""
    return _stroke_canvas(
        rng, w, h, ground=(220, 170, 150),
        palette=[(240, 180, 170), (225, 120, 110), (250, 215, 180), (190, 80, 70), (160, 170, 120), (250, 240, 225)],
        n=int(rng.integers(1200, 1700)), length=(5, 12), width=(5, 10),
        angle_fn=lambda r, px, py: r.uniform(0, np.pi), blur=1.6)


def edgar_degas(rng, w, h):
    """Long diagonal pastel strokes in muted teal, ochre and salmon."""
    main = rng.uniform(0.6, 1.1)
    return _stroke_canvas(
        rng, w, h, ground=(120, 110, 95),
        palette=[(70, 130, 130), (200, 160, 90), (230, 150, 130), (240, 230, 215), (60, 70, 80)],
        n=int(rng.integers(700, 1000)), length=(25, 60), width=(2, 4),
        angle_fn=lambda r, px, py: main + r.normal(0, 0.12), blur=0.4)


def paul_cezanne(rng, w, h):
    """Constructive stroke: patches of parallel slanted blocks in ochre, green and blue-grey."""
    patches = [(rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(0.5, 1.2)) for _ in range(6)]

    def blocky(r, px, py):
        _, _, a = min(patches, key=lambda p: (px - p[0]) ** 2 + (py - p[1]) ** 2)
        return a + r.normal(0, 0.05)

    return _stroke_canvas(
        rng, w, h, ground=(170, 150, 110),
        palette=[(200, 160, 80), (110, 140, 80), (120, 140, 160), (180, 100, 60), (70, 90, 70), (220, 210, 180)],
        n=int(rng.integers(900, 1300)), length=(8, 14), width=(7, 11), angle_fn=blocky)


PAINTERS: list[tuple[str, Callable[[np.random.Generator, int, int], Image.Image]]] = [
    ("Monet", claude_monet),
    ("VanGogh", vincent_van_gogh),
    ("Renoir", pierre_auguste_renoir),
    ("Degas", edgar_degas),
    ("Cezanne", paul_cezanne),
]


# --------------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------------

def save_jpeg(img: Image.Image, path: Path) -> None:
    """Save without any metadata (no EXIF, no timestamps): bytes depend only on the pixels."""
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    img.save(buf, **JPEG_OPTIONS)
    path.write_bytes(buf.getvalue())


def image_numbers(rng: np.random.Generator, count: int, taken: set[int]) -> list[int]:
    """Distinct ImageNet-like file numbers, avoiding `taken`."""
    out: list[int] = []
    while len(out) < count:
        n = int(rng.integers(100, 20000))
        if n not in taken:
            taken.add(n)
            out.append(n)
    return out


def make_reverse_image_search(root: Path) -> dict[str, int]:
    rows = []
    counts = {"train": 0, "test": 0}
    for ci, (name, wnid, gen) in enumerate(CLASSES):
        taken = set(FIXED_TEST_NUMBERS.values()) if name in FIXED_TEST_NUMBERS else set()
        nums = image_numbers(rng_for(1, ci, 0), TRAIN_PER_CLASS + TEST_PER_CLASS, taken)
        train_nums = sorted(nums[:TRAIN_PER_CLASS])
        test_nums = nums[TRAIN_PER_CLASS:]
        if name in FIXED_TEST_NUMBERS:
            test_nums = [FIXED_TEST_NUMBERS[name]]
        for split, numbers, split_key in (("train", train_nums, 1), ("test", test_nums, 2)):
            for ii, number in enumerate(numbers):
                rng = rng_for(1, ci, split_key, ii)
                w, h = pick_size(rng)
                rel = Path(split) / name / f"{wnid}_{number}.JPEG"
                save_jpeg(gen(rng, w, h), root / rel)
                counts[split] += 1
                if split == "train":
                    rows.append((f"./{rel.as_posix()}", name))
    with open(root / "reverse_image_search.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["id", "path", "label"])
        for i, (p, label) in enumerate(rows):
            writer.writerow([i, p, label])
    counts["classes"] = len(CLASSES)
    return counts


def make_paintings(root: Path) -> dict[str, int]:
    counts = {"paintings": 0, "test_paintings": 0}
    for pi, (painter, gen) in enumerate(PAINTERS):
        plan = (("paintings", GALLERY_PER_PAINTER, 1, 1), ("test_paintings", QUERIES_PER_PAINTER, 2, GALLERY_PER_PAINTER + 1))
        for split, count, split_key, first in plan:
            for ii in range(count):
                rng = rng_for(2, pi, split_key, ii)
                w, h = pick_size(rng, portrait_chance=0.35)
                path = root / split / painter / f"{painter}_{first + ii:02d}.jpg"
                save_jpeg(gen(rng, w, h), path)
                counts[split] += 1
    counts["painters"] = len(PAINTERS)
    return counts


def tree_digest(root: Path) -> tuple[str, int, int]:
    """sha256 over (relative path, bytes) of every file, file count, total bytes."""
    h = hashlib.sha256()
    n = size = 0
    for p in sorted(q for q in root.rglob("*") if q.is_file()):
        data = p.read_bytes()
        h.update(p.relative_to(root).as_posix().encode() + b"\0" + hashlib.sha256(data).digest())
        n += 1
        size += len(data)
    return h.hexdigest(), n, size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=SAMPLES_DIR, help="samples folder (default: helpers/samples)")
    args = parser.parse_args(argv)
    out: Path = args.out.resolve()

    ris, pnt = out / "reverse_image_search", out / "paintings"
    for folder in (ris, pnt):
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)

    c1 = make_reverse_image_search(ris)
    c2 = make_paintings(pnt)
    print(f"reverse_image_search: {c1['classes']} classes, {c1['train']} train, {c1['test']} test images "
          f"+ reverse_image_search.csv")
    print(f"paintings: {c2['painters']} painters, {c2['paintings']} gallery, {c2['test_paintings']} query images")
    digest, n, size = tree_digest(out)
    print(f"{n} files, {size / 1e6:.2f} MB in {out}")
    print(f"sha256 of the tree: {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
