"""Extraction: language identification with py3langid (Egyptian `arz` and Moroccan `ary` count as Arabic).

The model (~1 s to load) is loaded once, lazily, on the first call, never at import. py3langid's cost is linear
in the input (~2 ms for 3 KB on one core), and the first few hundred characters decide as well as the whole
text for news prose, so we classify a bounded sample: its head, plus a slice from the middle so that a Latin
byline or an English lead-in cannot decide alone.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

ARABIC = "ar"
ARABIC_VARIETIES = frozenset({"ar", "arz", "ary"})
UNDETERMINED = "und"


@dataclass(frozen=True)
class LanguageGuess:
    language: str  # ISO 639-1/3 label; every Arabic variety is reported as "ar"
    score: float  # probability of that label (for Arabic: the summed probability of ar, arz, ary)
    label: str  # the raw py3langid label (ar, arz, ary, fa, en, …)

    @property
    def is_arabic(self) -> bool:
        return self.language == ARABIC


class LanguageDetector:
    """py3langid with normalised probabilities, loaded on first use (thread-safe)."""

    def __init__(self, sample_chars: int = 400) -> None:
        self.sample_chars = sample_chars
        self._identifier: Any = None
        self._lock = threading.Lock()

    def _model(self) -> Any:
        if self._identifier is None:
            with self._lock:
                if self._identifier is None:
                    from py3langid.langid import MODEL_FILE, LanguageIdentifier

                    self._identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        return self._identifier

    def sample(self, text: str) -> str:
        if len(text) <= self.sample_chars:
            return text
        head = self.sample_chars * 2 // 3
        middle_start = len(text) // 2
        return text[:head] + "\n" + text[middle_start : middle_start + self.sample_chars - head]

    def detect(self, text: str) -> LanguageGuess:
        sample = self.sample(text)
        if not any(ch.isalpha() for ch in sample):
            return LanguageGuess(UNDETERMINED, 0.0, UNDETERMINED)
        ranked: list[tuple[str, float]] = self._model().rank(sample)
        label, score = ranked[0]
        if label in ARABIC_VARIETIES:
            arabic = sum(p for lang, p in ranked if lang in ARABIC_VARIETIES)
            return LanguageGuess(ARABIC, round(min(1.0, float(arabic)), 4), label)
        return LanguageGuess(label, round(float(score), 4), label)


_DEFAULT: LanguageDetector | None = None


def default_detector() -> LanguageDetector:
    """The process-wide detector (the model is loaded once per process, on first use)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = LanguageDetector()
    return _DEFAULT
