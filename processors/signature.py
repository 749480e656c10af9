"""Deduplication: word shingles of normalised text and their MinHash signatures (datasketch, affine32 scheme).

Shingles are word n-grams of `normalize_arabic(text)`, so diacritics, hamza forms, tatweel and digit scripts
never make two copies differ. Words are hashed with CRC-32 and n-grams combined arithmetically in numpy:
stable across processes and restarts (Python's `hash()` is salted per process, and signatures live in a
persistent store), and ~4x cheaper than datasketch's default SHA-1 per shingle. datasketch's `MinHash` with
`update_batch` then applies the permutations, vectorised; the permutations are generated once per signer.
"""

from __future__ import annotations

import re
import zlib

import numpy as np
from datasketch import MinHash

from processors.normalize import normalize_arabic

_WORD = re.compile(r"\w+")
_MIX_1 = np.uint64(0x9E3779B97F4A7C15)
_MIX_2 = np.uint64(0xC2B2AE3D27D4EB4F)
_SHIFT = np.uint64(32)


class TextSigner:
    """MinHash signatures of word n-gram shingles, with fixed (seeded) permutations."""

    def __init__(self, num_perm: int = 128, shingle_words: int = 3, seed: int = 1) -> None:
        if num_perm < 8 or shingle_words < 1:
            raise ValueError("num_perm must be >= 8 and shingle_words >= 1")
        self.num_perm = num_perm
        self.shingle_words = shingle_words
        self._permutations = MinHash(num_perm=num_perm, seed=seed).permutations

    def words(self, text: str) -> list[str]:
        return _WORD.findall(normalize_arabic(text))

    def shingle_hashes(self, words: list[str]) -> np.ndarray:
        """Distinct 32-bit hashes of the word n-grams (one shingle of all words when the text is shorter)."""
        if not words:
            return np.empty(0, dtype=np.uint64)
        # map() keeps the per-word loop in C (a third cheaper than a generator); str.encode defaults to UTF-8.
        hashed = np.fromiter(map(zlib.crc32, map(str.encode, words)), dtype=np.uint64, count=len(words))
        size = min(self.shingle_words, len(hashed))
        combined = hashed[: len(hashed) - size + 1].copy()
        for offset in range(1, size):
            combined = combined * _MIX_1 + hashed[offset : len(hashed) - size + 1 + offset] * _MIX_2
        return np.unique(combined >> _SHIFT)

    def signature(self, text: str) -> tuple[np.ndarray, int]:
        """(MinHash values as uint32, number of distinct shingles) of ``text``."""
        shingles = self.shingle_hashes(self.words(text))
        sketch = MinHash(num_perm=self.num_perm, permutations=self._permutations, hashfunc=int, scheme="affine32")
        if len(shingles):
            sketch.update_batch(shingles.tolist())
        return np.asarray(sketch.hashvalues, dtype=np.uint32), len(shingles)


def estimated_jaccard(left: np.ndarray, right: np.ndarray) -> float:
    """Share of equal MinHash values: an unbiased estimate of the shingle sets' Jaccard similarity."""
    if len(left) != len(right) or not len(left):
        return 0.0
    return float(np.count_nonzero(left == right)) / len(left)
