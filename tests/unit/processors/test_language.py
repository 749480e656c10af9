"""Language identification: Arabic varieties fold into "ar", other languages keep their label."""

from __future__ import annotations

from typing import Any

import pytest

from processors.language import LanguageDetector, default_detector


@pytest.fixture(scope="module")
def detector() -> LanguageDetector:
    return default_detector()


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("قالت وزارة الخارجية إن المحادثات ستستأنف الأسبوع المقبل في القاهرة بمشاركة وفود إقليمية.", "ar"),
        ("ازيك يا باشا عامل ايه النهارده، انا مش فاهم حاجة خالص من اللي بيحصل ده", "ar"),
        ("كنبغي نمشي للدار البيضاء غدا باش نشوف الواليدة ديالي", "ar"),
        ("این یک متن فارسی است که برای آزمایش نوشته شده است و درباره اخبار ایران است", "fa"),
        ("The foreign ministry said talks would resume next week in Cairo.", "en"),
        ("Le ministère a annoncé la reprise des négociations la semaine prochaine au Caire.", "fr"),
    ],
)
def test_labels(detector: LanguageDetector, text: str, language: str) -> None:
    guess = detector.detect(text)
    assert guess.language == language
    assert 0.0 < guess.score <= 1.0


def test_arabic_score_sums_the_varieties(detector: LanguageDetector, sample_text: str) -> None:
    guess = detector.detect(sample_text)
    assert guess.is_arabic and guess.score > 0.95


def test_no_letters_is_undetermined(detector: LanguageDetector) -> None:
    assert detector.detect("123 456 !!! ---").language == "und"
    assert detector.detect("").language == "und"


def test_sample_is_bounded_and_includes_the_middle() -> None:
    detector = LanguageDetector(sample_chars=300)
    text = "A" * 1000 + "ب" * 1000
    sample = detector.sample(text)
    assert len(sample) <= 301 and "ب" in sample and "A" in sample
    assert detector.sample("قصير") == "قصير"


def test_model_is_not_loaded_before_first_use() -> None:
    detector = LanguageDetector()
    assert not detector.loaded
    detector.detect("نص عربي")
    assert detector.loaded


def test_load_loads_the_model_once() -> None:
    detector = LanguageDetector()
    detector.load()
    assert detector.loaded
    scorer = detector._identifier
    detector.load()
    assert detector._identifier is scorer


def _reference() -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def test_numpy_scoring_equals_py3langid(detector: LanguageDetector, sample_text: str) -> None:
    """Same features, probabilities (to float32 rounding) and ranking as py3langid's: prose, mixed scripts, noise."""
    import random

    import numpy as np
    from py3langid.langid import visit_counts

    reference: Any = _reference()
    rng = random.Random(5)
    alphabet = [chr(c) for c in [*range(32, 127), *range(0x600, 0x700), *range(0x400, 0x450), 0xE9, 0x200C, 0x1F600]]
    texts = [sample_text, sample_text.upper(), "", "a", "ب", "ABC DEF", "Ünïcödé ÉCRIT", "中文新闻 " * 5]
    texts += ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 80))) for _ in range(300)]
    scorer = detector._model()
    for text in texts:
        data = reference._encode(text)
        features = scorer.features(data)
        expected = visit_counts(reference.tk_nextmove, reference._rowbase, reference.tk_output, data) or {}
        assert features[features >= 0].tolist() == _walk(reference, data)
        assert dict(zip(*np.unique(features[features >= 0], return_counts=True), strict=True)) == expected
        assert np.allclose(scorer.probabilities(text), reference._decide(text), rtol=0, atol=1e-5), text
        ranked = reference.rank(text)
        arabic = sum(p for label, p in ranked if label in {"ar", "arz", "ary"})
        label, probability, arabic_probability = scorer.best(text)
        tied = len(ranked) > 1 and ranked[0][1] - ranked[1][1] < 1e-5  # float32 rounding may order a tie otherwise
        assert label == ranked[0][0] or tied, text
        assert abs(probability - ranked[0][1]) < 1e-5 and abs(arabic_probability - arabic) < 1e-5


def _walk(reference: Any, data: bytes) -> list[int]:
    """py3langid's DFA walk, one byte at a time (visit_counts without the counting)."""
    state, found = 0, []
    for code in data:
        state = reference.tk_nextmove[reference._rowbase[state] + code]
        if reference.tk_output[state] >= 0:
            found.append(reference.tk_output[state])
    return found


def test_numpy_walk_reaches_the_deepest_states(detector: LanguageDetector) -> None:
    """The byte strings of the DFA's deepest states (where a too-short window would go wrong), after noise."""
    import random

    import numpy as np

    reference = _reference()
    scorer = detector._model()
    rows = scorer.nextmove.reshape(-1, 256)
    row_of = np.frombuffer(reference.tk_row, dtype=np.dtype(reference.tk_row.typecode))
    parent = np.full(len(row_of), -1)
    byte = np.zeros(len(row_of), dtype=np.int64)
    parent[0] = 0
    frontier = np.array([0])
    while True:  # breadth first: a state's first label is its shortest byte string
        children = rows[row_of[frontier]]
        origin, code = np.nonzero(parent[children] < 0)
        if not len(origin):
            break
        reached, first = np.unique(children[origin, code], return_index=True)
        parent[reached], byte[reached] = frontier[origin[first]], code[first]
        frontier = reached
    assert (parent < 0).sum() == 0
    labels = {}
    for state in frontier.tolist():
        path, node = [], state
        while node:
            path.append(int(byte[node]))
            node = int(parent[node])
        labels[state] = bytes(reversed(path))
    assert all(len(label) == scorer.depth for label in labels.values())
    rng = random.Random(2)
    for state in frontier:
        data = bytes(rng.randrange(256) for _ in range(rng.randint(0, 8))) + labels[state]
        features = scorer.features(data)
        assert features[features >= 0].tolist() == _walk(reference, data)
