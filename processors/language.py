"""Extraction: language identification with py3langid (Egyptian `arz` and Moroccan `ary` count as Arabic).

The model (~1 s to load) is loaded once, lazily, on the first call, never at import. The first few hundred
characters decide as well as the whole text for news prose, so we classify a bounded sample: its head, plus a
slice from the middle so that a Latin byline or an English lead-in cannot decide alone.

py3langid's own scoring walks its byte DFA in a Python loop and multiplies float16 weights, which numpy casts
element by element (~0.6 ms for the 400-character sample). `_Scorer` computes the same naive-Bayes scores from
the same model in numpy: the DFA is an Aho-Corasick automaton whose states are byte strings of at most
`depth` bytes, so the state after any position depends only on the last `depth` bytes, and all positions are
walked at once, `depth` steps; the weights are cast to float32 once (the float16 copy is not kept).
Features, counts and the arithmetic are py3langid's; the counts are summed in feature order rather than in order
of first occurrence (one sort instead of two and a gather: a third of the scorer's time), so the float32 scores
differ from py3langid's in their last bits only (tested: the same label, probabilities within 1e-5).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

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


class _Scorer:
    """py3langid's normalised class probabilities (`LanguageIdentifier(norm_probs=True)._decide`), in numpy."""

    def __init__(self, identifier: Any) -> None:
        self.encode = identifier._encode
        self.labels: list[str] = list(identifier.nb_classes)
        self.nextmove = np.frombuffer(identifier.tk_nextmove, dtype=np.dtype(identifier.tk_nextmove.typecode))
        rows = np.frombuffer(identifier.tk_row, dtype=np.dtype(identifier.tk_row.typecode))
        self.rowbase = rows.astype(np.intp) << 8
        self.output = np.asarray(identifier.tk_output, dtype=np.intp)
        self.table = np.asarray(identifier.nb_ptc).astype(np.float32)
        self.prior = np.asarray(identifier.nb_pc, dtype=np.float32)
        self.depth = _max_depth(self.nextmove.reshape(-1, 256), rows)
        first: dict[str, int] = {}
        self.aliases: list[tuple[int, int]] = []  # (first column, later column) of a label listed twice
        for i, label in enumerate(self.labels):
            if first.setdefault(label, i) != i:
                self.aliases.append((first[label], i))
        self.firsts = sorted(first.values())

    def features(self, data: bytes) -> np.ndarray:
        """The feature emitted at each byte position (−1: none), as py3langid's `visit_counts` walks them."""
        codes = np.frombuffer(data, dtype=np.uint8).astype(np.intp)
        size, depth = len(codes), self.depth
        head: list[int] = []
        state = 0
        for code in data[: depth - 1]:  # positions with fewer than `depth` bytes before them: walk them
            state = int(self.nextmove[self.rowbase[state] + code])
            head.append(state)
        states = np.zeros(max(0, size - depth + 1), dtype=np.intp)
        for step in range(depth if len(states) else 0):
            states = self.nextmove.take(self.rowbase.take(states) + codes[step : size - depth + 1 + step])
        return self.output.take(np.concatenate((np.asarray(head, dtype=np.intp), states)))

    def probabilities(self, text: str) -> np.ndarray:
        data = self.encode(text)
        features = self.features(data)
        features = features[features >= 0]
        if len(features):
            distinct, counts = _counted(features)
            scores = np.log1p(counts.astype(np.float32)) @ self.table[distinct] + self.prior
        else:
            scores = np.zeros(len(self.labels), dtype=np.float32)
        scores *= 1.0 / math.sqrt(len(data) or 1)
        np.exp(scores - scores.max(), out=scores)
        scores /= scores.sum()
        for i, j in self.aliases:
            scores[i] += scores[j]
            scores[j] = 0.0
        return scores

    def best(self, text: str) -> tuple[str, float, float]:
        """(top label, its probability, summed probability of the Arabic varieties), as py3langid's rank()."""
        values = self.probabilities(text).tolist()
        top = max(self.firsts, key=values.__getitem__)  # the first of equal maxima, as rank()'s stable sort
        arabic = sorted((values[i] for i in self.firsts if self.labels[i] in ARABIC_VARIETIES), reverse=True)
        return self.labels[top], values[top], sum(arabic)


def _counted(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distinct features in increasing order, their counts): ``np.unique(..., return_counts=True)`` in one sort."""
    ordered = np.sort(features)
    starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
    return ordered[starts], np.diff(np.append(starts, len(ordered)))


def _max_depth(rows: np.ndarray, row_of: np.ndarray) -> int:
    """Length of the longest byte string a DFA state stands for (breadth-first levels from state 0)."""
    seen = np.zeros(len(row_of), dtype=bool)
    seen[0] = True
    frontier, depth = np.array([0]), 0
    while True:
        used = np.zeros(len(rows), dtype=bool)
        used[row_of[frontier]] = True
        reached = np.zeros(len(row_of), dtype=bool)
        reached[rows[used].ravel()] = True
        reached &= ~seen
        if not reached.any():
            return depth
        seen |= reached
        frontier, depth = np.flatnonzero(reached), depth + 1


class LanguageDetector:
    """py3langid with normalised probabilities, loaded on first use (thread-safe)."""

    def __init__(self, sample_chars: int = 400) -> None:
        self.sample_chars = sample_chars
        self._identifier: _Scorer | None = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._identifier is not None

    def load(self) -> None:
        """Load the model now (a process that must not stall on its first article calls this at start)."""
        self._model()

    def _model(self) -> _Scorer:
        if self._identifier is None:
            with self._lock:
                if self._identifier is None:
                    from py3langid.langid import MODEL_FILE, LanguageIdentifier

                    self._identifier = _Scorer(LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True))
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
        label, score, arabic = self._model().best(sample)
        if label in ARABIC_VARIETIES:
            return LanguageGuess(ARABIC, round(min(1.0, float(arabic)), 4), label)
        return LanguageGuess(label, round(float(score), 4), label)


_DEFAULT: LanguageDetector | None = None


def default_detector() -> LanguageDetector:
    """The process-wide detector (the model is loaded once per process, on first use)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = LanguageDetector()
    return _DEFAULT
