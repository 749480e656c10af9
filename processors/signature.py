"""Deduplication: word shingles of normalised text and their MinHash signatures (datasketch, affine32 scheme).

Shingles are word n-grams of `normalize_arabic(text)`, so diacritics, hamza forms, tatweel and digit scripts
never make two copies differ. Words are hashed with CRC-32 and n-grams combined arithmetically in numpy:
stable across processes and restarts (Python's `hash()` is salted per process, and signatures live in a
persistent store), and ~4x cheaper than datasketch's default SHA-1 per shingle. The permutations are
datasketch's (`MinHash(num_perm, seed)`, scheme affine32: MurmurHash3's 32-bit finalizer, then a·h + b in
uint32), generated once per signer and applied here in one numpy pass: the same values as `MinHash.update_batch`
(tested), without building a MinHash object and a Python list per article.
"""

from __future__ import annotations

import functools
import re
import zlib
from collections.abc import Sequence

import numpy as np
from datasketch import MinHash

from processors.normalize import normalize_arabic

_WORD = re.compile(r"\w+")
_MIX_1 = np.uint64(0x9E3779B97F4A7C15)
_MIX_2 = np.uint64(0xC2B2AE3D27D4EB4F)
_SHIFT = np.uint64(32)
_FMIX = (np.uint32(16), np.uint32(0x85EBCA6B), np.uint32(13), np.uint32(0xC2B2AE35), np.uint32(16))
_EMPTY = np.uint32(0xFFFFFFFF)  # datasketch's initial value: what a text without shingles keeps
# An article's text is tokenised for its dedup shingles and again for its story-clustering content words: the
# words of the last few long texts are remembered (an immutable tuple, shared safely).
_REMEMBERED = 1000


class TextSigner:
    """MinHash signatures of word n-gram shingles, with fixed (seeded) permutations."""

    def __init__(self, num_perm: int = 128, shingle_words: int = 3, seed: int = 1) -> None:
        if num_perm < 8 or shingle_words < 1:
            raise ValueError("num_perm must be >= 8 and shingle_words >= 1")
        self.num_perm = num_perm
        self.shingle_words = shingle_words
        permutations = MinHash(num_perm=num_perm, seed=seed, scheme="affine32").permutations
        self._a = np.asarray(permutations[0], dtype=np.uint32)
        self._b = np.asarray(permutations[1], dtype=np.uint32)

    def words(self, text: str) -> tuple[str, ...]:
        """The words of ``normalize_arabic(text)`` (runs of `\\w`)."""
        return _remembered_words(text) if len(text) >= _REMEMBERED else tuple(_WORD.findall(normalize_arabic(text)))

    def shingle_hashes(self, words: Sequence[str]) -> np.ndarray:
        """Distinct 32-bit hashes of the word n-grams (one shingle of all words when the text is shorter)."""
        if not words:
            return np.empty(0, dtype=np.uint64)
        # map() keeps the per-word loop in C (a third cheaper than a generator); str.encode defaults to UTF-8.
        hashed = np.fromiter(map(zlib.crc32, map(str.encode, words)), dtype=np.uint64, count=len(words))
        size = min(self.shingle_words, len(hashed))
        combined = hashed[: len(hashed) - size + 1].copy()
        for offset in range(1, size):
            combined = combined * _MIX_1 + hashed[offset : len(hashed) - size + 1 + offset] * _MIX_2
        combined = np.sort(combined >> _SHIFT)
        return combined[np.concatenate(([True], combined[1:] != combined[:-1]))]  # np.unique, one sort

    def signature(self, text: str) -> tuple[np.ndarray, int]:
        """(MinHash values as uint32, number of distinct shingles) of ``text``."""
        shingles = self.shingle_hashes(self.words(text))
        if not len(shingles):
            return np.full(self.num_perm, _EMPTY, dtype=np.uint32), 0
        return self.minhash(shingles.astype(np.uint32)), len(shingles)

    def minhash(self, hashes: np.ndarray) -> np.ndarray:
        """Per permutation, the least a·fmix32(h) + b (mod 2³²) over ``hashes`` (uint32, not empty)."""
        s1, m1, s2, m2, s3 = _FMIX
        mixed = hashes ^ (hashes >> s1)
        mixed *= m1
        mixed ^= mixed >> s2
        mixed *= m2
        mixed ^= mixed >> s3
        permuted = np.multiply.outer(mixed, self._a)
        permuted += self._b
        return permuted.min(axis=0)


@functools.lru_cache(maxsize=64)
def _remembered_words(text: str) -> tuple[str, ...]:
    return tuple(_WORD.findall(normalize_arabic(text)))


def estimated_jaccard(left: np.ndarray, right: np.ndarray) -> float:
    """Share of equal MinHash values: an unbiased estimate of the shingle sets' Jaccard similarity."""
    if len(left) != len(right) or not len(left):
        return 0.0
    return float(np.count_nonzero(left == right)) / len(left)
