"""Text queries through CLIP (offline: seeded stand-in weights loaded by `clip.load` from a real TorchScript file).

The stand-in weights make the vectors meaningless as search results, but tokenisation, truncation, batching and
normalisation are the real code paths, so what is checked here holds for the real model too.
"""

from __future__ import annotations

import numpy as np
import pytest

from helpers.encoders import CLIP_CONTEXT_LENGTH

NOTICE = f"longer than CLIP's {CLIP_CONTEXT_LENGTH} tokens and was truncated"
WORDS_THAT_FIT = CLIP_CONTEXT_LENGTH - 2  # "dog" is one token; the start and end tokens take the other two


@pytest.fixture(scope="module")
def clip_model(clip_encoder):
    """The CLIP encoder, loaded once (conftest's session fixture: loading takes several seconds)."""
    return clip_encoder


def unit(vector: np.ndarray) -> bool:
    return vector.shape == (512,) and bool(np.isfinite(vector).all()) and abs(np.linalg.norm(vector) - 1) < 1e-5


@pytest.mark.parametrize("text", ["", " ", "   \t\n ", "\u00a0\u3000"])  # the last: no-break and ideographic spaces
def test_an_empty_or_blank_query_is_a_clear_value_error(clip_model, text):
    with pytest.raises(ValueError, match="Empty text query: type a few words"):
        clip_model.embed_text(text)


def test_one_blank_query_in_a_batch_stops_the_batch(clip_model):
    with pytest.raises(ValueError, match="Empty text query"):
        clip_model.embed_texts(["a white dog", "  "])


def test_a_query_over_77_tokens_is_truncated_with_a_notice(clip_model, capsys):
    long_text = "dog " * 100
    vector = clip_model.embed_text(long_text)
    assert unit(vector)
    err = capsys.readouterr().err
    assert err.count(NOTICE) == 1 and "'dog dog dog" in err
    # What is kept is the beginning: 100 dogs embed exactly like the 75 that fit.
    np.testing.assert_allclose(vector, clip_model.embed_text("dog " * WORDS_THAT_FIT), atol=1e-5)


def test_the_notice_appears_from_the_first_token_that_does_not_fit(clip_model, capsys):
    clip_model.embed_text("dog " * WORDS_THAT_FIT)
    assert NOTICE not in capsys.readouterr().err
    clip_model.embed_text("dog " * (WORDS_THAT_FIT + 1))
    assert NOTICE in capsys.readouterr().err


def test_only_the_tail_beyond_the_limit_is_lost(clip_model, capsys):
    start = "a photo of a small white dog on a green lawn " * 10  # well over 77 tokens
    np.testing.assert_allclose(clip_model.embed_text(start + "at night"), clip_model.embed_text(start + "in the snow"),
                               atol=1e-5)
    short = "a photo of a small white dog "
    assert not np.allclose(clip_model.embed_text(short + "at night"), clip_model.embed_text(short + "in the snow"),
                           atol=1e-3)
    assert capsys.readouterr().err.count(NOTICE) == 2


NON_ASCII = ["ein weißer Hund", "白い犬", "🐶", "🐕‍🦺 собака", "chien blanc à l'école"]


def test_non_ascii_queries_give_distinct_unit_vectors(clip_model, capsys):
    vectors = clip_model.embed_texts(NON_ASCII)
    assert all(unit(vector) for vector in vectors)
    for i in range(len(NON_ASCII)):
        for j in range(i + 1, len(NON_ASCII)):  # no script is dropped and turned into the same empty query
            assert not np.allclose(vectors[i], vectors[j], atol=1e-3), (NON_ASCII[i], NON_ASCII[j])
    assert not np.allclose(vectors[1], clip_model.embed_text("dog"), atol=1e-3)
    assert NOTICE not in capsys.readouterr().err


def test_a_batch_equals_one_query_at_a_time(clip_model):
    texts = ["a white dog", "a red car", "ein weißer Hund", "白い犬", "🐶", "dog " * 90, "x"]
    batch = clip_model.embed_texts(texts)
    assert batch.shape == (len(texts), 512) and batch.dtype == np.float32
    for text, vector in zip(texts, batch):
        np.testing.assert_allclose(vector, clip_model.embed_text(text), atol=1e-5)
    assert not np.allclose(batch[0], batch[1], atol=1e-3)


def test_the_same_query_always_gives_the_same_vector(clip_model):
    np.testing.assert_array_equal(clip_model.embed_text("白い犬"), clip_model.embed_text("白い犬"))
