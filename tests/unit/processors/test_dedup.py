"""Deduplicator: exact, near-duplicate and cluster decisions, idempotence, store contract, expiry."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from datasketch import MinHash
from hypothesis import given, settings
from hypothesis import strategies as st

from processors.dedup import DedupConfig, Deduplicator
from processors.extract import text_hash
from processors.records import Article
from processors.signature import TextSigner
from tests.unit.processors.devset import load_devset, to_article


class StrictStore(dict[str, Any]):
    """A dict that refuses whole-store iteration (the hot path must not scan) and checks JSON values."""

    scanning_allowed = False

    def __setitem__(self, key: str, value: Any) -> None:
        assert isinstance(key, str)
        json.dumps(value)  # values must be JSON-serialisable (a Faust Table's changelog)
        super().__setitem__(key, value)

    def __iter__(self) -> Iterator[str]:
        assert self.scanning_allowed, "the hot path iterated the store"
        return super().__iter__()

    def items(self) -> Any:
        assert self.scanning_allowed, "the hot path iterated the store"
        return super().items()


@pytest.fixture(scope="module")
def devset() -> dict[str, dict]:
    items, _ = load_devset()
    return {item["id"]: item for item in items}


def article(devset: dict[str, dict], item_id: str, position: int = 0, **changes: Any) -> Article:
    if "text" in changes:
        changes["text_hash"] = text_hash(changes["text"])
    return to_article(devset[item_id], position).model_copy(update=changes)


def test_unique_article_is_its_own_cluster(devset: dict[str, dict]) -> None:
    info = Deduplicator(StrictStore()).check(article(devset, "cairo-metro"))
    assert (info.status, info.duplicate_of, info.cluster_id) == ("unique", None, "cairo-metro")


def test_same_id_gets_the_same_decision_again(devset: dict[str, dict]) -> None:
    dedup = Deduplicator(StrictStore())
    first = dedup.check(article(devset, "cairo-metro"))
    reprint = dedup.check(article(devset, "cairo-metro~wire", 1))
    assert dedup.check(article(devset, "cairo-metro", 5)) == first  # re-poll: not a duplicate of itself
    assert dedup.check(article(devset, "cairo-metro~wire", 9)) == reprint  # redelivery: the same decision
    changed = article(devset, "cairo-metro", 10, text="نص مختلف تماماً " * 20)
    assert dedup.check(changed) == first  # an updated page under the same id keeps its first decision


def test_exact_duplicate_under_another_id(devset: dict[str, dict]) -> None:
    dedup = Deduplicator(StrictStore())
    original = article(devset, "libya-derna")
    dedup.check(original)
    # The same text with other diacritics and hamza forms is the same normalised text.
    copy = article(devset, "libya-derna", 3, id="mirror-1", source="mirror", url="https://mirror.example/1")
    info = dedup.check(copy)
    assert (info.status, info.duplicate_of, info.similarity, info.cluster_id) == (
        "duplicate",
        "libya-derna",
        1.0,
        "libya-derna",
    )


def test_near_duplicates_point_at_the_first_article_of_the_family(devset: dict[str, dict]) -> None:
    dedup = Deduplicator(StrictStore())
    dedup.check(article(devset, "sudan-fasher"))
    wire = dedup.check(article(devset, "sudan-fasher~wire", 1))
    lead = dedup.check(article(devset, "sudan-fasher~lead", 2))
    assert wire.status == lead.status == "near_duplicate"
    assert wire.duplicate_of == lead.duplicate_of == "sudan-fasher"
    assert wire.cluster_id == "sudan-fasher"
    assert wire.similarity is not None and 0.6 < wire.similarity <= 1.0


def test_distinct_story_same_place_and_day_stays_unique(devset: dict[str, dict]) -> None:
    dedup = Deduplicator(StrictStore())
    dedup.check(article(devset, "gaza-rafah-strike~background"))
    info = dedup.check(article(devset, "gaza-aid-trucks~background", 1))
    assert info.status == "unique" and info.duplicate_of is None


def test_lower_band_joins_the_cluster_without_being_a_duplicate(devset: dict[str, dict]) -> None:
    dedup = Deduplicator(StrictStore())
    dedup.check(article(devset, "gaza-rafah-strike~background"))
    info = dedup.check(article(devset, "gaza-aid-trucks~background", 1))
    # Sharing a whole background paragraph puts them in one band of similarity (the story clusterer confirms).
    assert info.cluster_id == "gaza-rafah-strike~background"
    assert info.similarity is not None and info.similarity < 0.6


def test_candidates_outside_the_window_are_ignored(devset: dict[str, dict]) -> None:
    dedup = Deduplicator(StrictStore(), DedupConfig(window_days=7))
    original = article(devset, "tunisia-boat")
    dedup.check(original)
    eight_days = original.fetched_at + timedelta(days=8)
    exact_later = article(devset, "tunisia-boat", id="x2", fetched_at=eight_days)
    assert dedup.check(exact_later).status == "unique"  # same text, but the original is out of the window
    later = dedup.check(article(devset, "tunisia-boat~wire", fetched_at=eight_days))
    assert later.duplicate_of == "x2"  # matched within the window only


def test_expire_removes_old_state_and_keeps_recent(devset: dict[str, dict]) -> None:
    store = StrictStore()
    dedup = Deduplicator(store, DedupConfig(window_days=7))
    old = article(devset, "yemen-ship")
    dedup.check(old)
    recent = article(devset, "yemen-cholera", fetched_at=old.fetched_at + timedelta(days=6))
    dedup.check(recent)
    store.scanning_allowed = True
    removed = dedup.expire(old.fetched_at + timedelta(days=8))
    assert removed > 0
    assert "a:yemen-ship" not in store and "a:yemen-cholera" in store
    assert old.text_hash not in dedup.texts and recent.text_hash in dedup.texts
    assert all(dedup.index.ids[n] != "yemen-ship" for band in dedup.index.buckets for b in band.values() for n in b)
    assert "yemen-ship" not in dedup.index.serials and "yemen-cholera" in dedup.index.serials
    assert dedup.expire(old.fetched_at + timedelta(days=8)) == 0
    store.scanning_allowed = False
    # After expiry the reprint is judged afresh against what is left.
    assert (
        dedup.check(article(devset, "yemen-ship~wire", fetched_at=old.fetched_at + timedelta(days=8))).status
        == "unique"
    )


def test_state_survives_a_json_round_trip(devset: dict[str, dict]) -> None:
    store = StrictStore()
    Deduplicator(store).check(article(devset, "saudi-metro"))
    store.scanning_allowed = True
    restored = StrictStore(json.loads(json.dumps(store)))  # what a Faust Table gives back after recovery
    restored.scanning_allowed = True
    recovered = Deduplicator(restored)
    assert recovered.rebuild_index() == 1  # the LSH buckets come back from the stored signatures
    restored.scanning_allowed = False
    info = recovered.check(article(devset, "saudi-metro~edited", 1))
    assert (info.status, info.duplicate_of) == ("near_duplicate", "saudi-metro")


def test_only_per_article_state_is_written(devset: dict[str, dict]) -> None:
    store = StrictStore()
    dedup = Deduplicator(store)
    dedup.check(article(devset, "saudi-metro"))
    dedup.check(article(devset, "saudi-metro~edited", 1))
    store.scanning_allowed = True
    assert sorted(key.split(":", 1)[0] for key in store) == ["a", "a"]  # one entry (one changelog record) each
    assert len(dedup.index) == 2 * dedup.config.bands - _shared_bands(dedup)


def test_buckets_are_bounded() -> None:
    store = StrictStore()
    dedup = Deduplicator(store, DedupConfig(max_bucket=4))
    shared = "هذا نص مشترك بين كل المقالات في هذا الاختبار ولا يتغير أبداً "
    for n in range(10):
        text = shared + " ".join(f"كلمة{n}_{i}" for i in range(60))
        item = Article.model_validate(
            to_article({"id": f"a{n}", "title": "t", "text": text}, n).model_dump() | {"text": text}
        )
        dedup.check(item)
    assert max(len(bucket) for band in dedup.index.buckets for bucket in band.values()) <= 4


def test_config_rejects_bands_that_do_not_cover_the_signature() -> None:
    with pytest.raises(ValueError, match="bands"):
        DedupConfig(num_perm=128, bands=30, rows=4)


def test_random_light_edits_are_found(devset: dict[str, dict]) -> None:
    """5 % of words replaced at random (the NOTES' 'light edit' case) stays a near-duplicate."""
    rng = random.Random(7)
    dedup = Deduplicator(StrictStore())
    found = 0
    originals = [i for i in devset if "~" not in i]
    for position, item_id in enumerate(originals):
        dedup.check(article(devset, item_id, position))
    for position, item_id in enumerate(originals):
        words = devset[item_id]["text"].split(" ")
        for index in rng.sample(range(len(words)), k=max(1, len(words) // 20)):
            words[index] = "كلمة"
        edited = article(devset, item_id, 100 + position, id=f"{item_id}-edit", text=" ".join(words))
        info = dedup.check(edited)
        found += info.status == "near_duplicate" and info.duplicate_of == item_id
    assert found == len(originals)


def test_texts_without_words_are_never_near_duplicates() -> None:
    dedup = Deduplicator(StrictStore())
    first = to_article({"id": "p1", "title": "t", "text": "!!! ... ؟؟؟ " * 10}, 0)
    second = to_article({"id": "p2", "title": "t", "text": "*** --- ### " * 10}, 1)
    assert dedup.check(first).status == "unique"
    assert dedup.check(second).status == "unique"


_POOL = [
    "قال مسؤول في وزارة الصحة إن حصيلة الضحايا ارتفعت إلى عشرين قتيلاً في القصف الذي استهدف السوق.",
    "أعلنت الحكومة اللبنانية خطة جديدة لإصلاح قطاع الكهرباء بالتعاون مع البنك الدولي.",
    "وصلت قافلة مساعدات إلى مدينة الفاشر بعد أسابيع من الانتظار على الطريق.",
    "ارتفع سعر صرف الدولار في السوق الموازية في دمشق إلى مستوى قياسي جديد.",
    "غرق قارب يقل مهاجرين قبالة سواحل صفاقس وانتشال جثث عدد منهم.",
    "فازت الفرق المغربية ببطولة الأندية العربية بعد مباراة نهائية مثيرة في الرباط.",
]


@st.composite
def article_streams(draw: st.DrawFn) -> list[Article]:
    items = []
    for position in range(draw(st.integers(min_value=1, max_value=12))):
        sentences = draw(st.lists(st.sampled_from(_POOL), min_size=1, max_size=5))
        text = "\n".join(sentences)
        if draw(st.booleans()):
            text = draw(st.sampled_from(["بيروت - (أ ف ب): ", "", "عاجل: "])) + text
        item_id = draw(st.sampled_from([f"id{n}" for n in range(8)]))
        items.append(to_article({"id": item_id, "title": "t", "text": text}, position))
    return items


@settings(max_examples=60, deadline=None)
@given(article_streams())
def test_property_decisions_are_stable_and_point_at_unique_roots(stream: list[Article]) -> None:
    store = StrictStore()
    dedup = Deduplicator(store)
    decisions: dict[str, Any] = {}
    for item in stream:
        info = dedup.check(item)
        decisions.setdefault(item.id, info)
        assert info == decisions[item.id]  # the first decision, whatever the text under that id later
        if info.status != "unique":
            assert info.duplicate_of in decisions and info.duplicate_of != item.id
            assert decisions[info.duplicate_of].status == "unique"
            assert info.similarity is not None and 0.0 < info.similarity <= 1.0
        assert info.cluster_id in decisions
    store.scanning_allowed = True
    json.dumps(store)


def _shared_bands(dedup: Deduplicator) -> int:
    """Buckets that hold both articles (counted once in len(index))."""
    return sum(len(bucket) == 2 for band in dedup.index.buckets for bucket in band.values())


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from([*_POOL, "!!!", "كلمة", "a b c"]), min_size=0, max_size=6))
def test_signature_equals_datasketch_minhash(sentences: list[str]) -> None:
    """The numpy MinHash is datasketch's affine32 MinHash of the same shingles (stored signatures stay valid)."""
    signer = TextSigner()
    text = " ".join(sentences)
    shingles = signer.shingle_hashes(signer.words(text))
    expected = MinHash(num_perm=128, seed=1, hashfunc=int, scheme="affine32")
    expected.update_batch(shingles.tolist())
    signature, size = signer.signature(text)
    assert size == len(shingles)
    assert signature.dtype == np.uint32 and signature.tolist() == expected.hashvalues.tolist()


def _index_state(dedup: Deduplicator) -> tuple[list[dict[bytes, list[str]]], dict[str, tuple[float, list[int], int]]]:
    """The buckets (as ids) and each indexed article's time, signature and size, independent of serials."""
    index = dedup.index
    buckets = [{key: [index.ids[n] for n in bucket] for key, bucket in band.items()} for band in index.buckets]
    articles = {
        i: (float(index.times[n]), index.signatures[n].tolist(), int(index.sizes[n])) for i, n in index.serials.items()
    }
    return buckets, articles


def _variants(count: int) -> list[Article]:
    """Articles sharing one paragraph and differing in the rest, an hour apart: many candidates, many ties."""
    shared = "هذا نص مشترك بين كل المقالات في هذا الاختبار ولا يتغير أبداً "
    rng = random.Random(5)
    items = []
    for n in range(count):
        text = shared + " ".join(f"كلمة{rng.randrange(40)}" for _ in range(30))
        item = to_article({"id": f"v{rng.randrange(10**6):06d}-{n}", "title": "t", "text": text}, 60 * n)
        items.append(Article.model_validate(item.model_dump() | {"text": text, "text_hash": text_hash(text)}))
    return items


def test_expiry_leaves_the_index_a_rebuild_from_the_store_would_make() -> None:
    store = StrictStore()
    live = Deduplicator(store, DedupConfig(window_days=1.0, max_bucket=8, max_candidates=5))
    for n, item in enumerate(_variants(120)):
        live.check(item)
        if n % 17 == 16:
            store.scanning_allowed = True
            live.expire(item.fetched_at)
            rebuilt = Deduplicator(StrictStore(store), live.config)
            rebuilt.store.scanning_allowed = True
            rebuilt.rebuild_index()
            store.scanning_allowed = False
            assert _index_state(live) == _index_state(rebuilt)


def test_candidates_are_those_sharing_most_bands_then_the_smallest_ids() -> None:
    from collections import Counter

    dedup = Deduplicator(StrictStore(), DedupConfig(max_candidates=6, max_bucket=10))
    for item in _variants(60):
        signature, size = dedup.signer.signature(item.text)
        found = dedup.index.lookup(signature)
        hits = Counter(dedup.index.ids[n] for bucket in found[1] if bucket for n in bucket)
        expected = sorted(hits, key=lambda i: (-hits[i], i))[:6]
        serials, ids = dedup._candidates(item.id, found, item.fetched_at.timestamp())
        assert sorted(ids) == sorted(expected) and [dedup.index.ids[n] for n in serials.tolist()] == ids
        dedup.check(item, (signature, size))


def test_signatures_stored_as_json_lists_by_older_versions_are_still_read(devset: dict[str, dict]) -> None:
    store = StrictStore()
    Deduplicator(store).check(article(devset, "saudi-metro"))
    entry = store["a:saudi-metro"]
    signature, _ = TextSigner().signature(article(devset, "saudi-metro").text)
    assert isinstance(entry["sig"], str) and len(entry["sig"]) < len(json.dumps(signature.tolist())) * 0.6
    store["a:saudi-metro"] = entry | {"sig": signature.tolist()}  # as written before signatures were base64
    store.scanning_allowed = True
    recovered = Deduplicator(StrictStore(store))
    recovered.store.scanning_allowed = True
    assert recovered.rebuild_index() == 1
    assert recovered.index.signatures[0].tolist() == signature.tolist()
    info = recovered.check(article(devset, "saudi-metro~edited", 1))
    assert (info.status, info.duplicate_of) == ("near_duplicate", "saudi-metro")


def test_a_check_reads_each_key_of_the_store_once_at_most(devset: dict[str, dict]) -> None:
    """A Faust table read costs: the text hash read to find an exact copy also decides whether to write it."""
    reads: list[str] = []

    class Counting(StrictStore):
        def get(self, key: str, default: Any = None) -> Any:
            reads.append(key)
            return super().get(key, default)

    dedup = Deduplicator(Counting())
    items = [article(devset, i, n) for n, i in enumerate(["saudi-metro", "saudi-metro~edited", "cairo-metro"])]
    copy = article(devset, "saudi-metro", 3, id="copy")
    for item, status in zip([*items, copy], ["unique", "near_duplicate", "unique", "duplicate"], strict=True):
        reads.clear()
        assert dedup.check(item).status == status
        assert len(reads) == len(set(reads)) and not any(key.startswith("h:") for key in reads)
    assert dedup.store["a:saudi-metro"]["h"] == copy.text_hash  # the first with that text says so
    assert "h" not in dedup.store["a:copy"] and dedup.texts[copy.text_hash][0] == "saudi-metro"


def test_an_exact_copy_is_found_after_a_recovery(devset: dict[str, dict]) -> None:
    """Which article first had a text is rebuilt from the stored entries, as a recovered Faust table gives them."""
    store = StrictStore()
    dedup = Deduplicator(store)
    first, second = article(devset, "saudi-metro"), article(devset, "cairo-metro", 1)
    for item in (first, second, article(devset, "saudi-metro", 2, id="copy")):
        dedup.check(item)
    store.scanning_allowed = True
    recovered = Deduplicator(StrictStore(json.loads(json.dumps(store))))
    recovered.store.scanning_allowed = True  # type: ignore[attr-defined]
    recovered.rebuild_index()
    recovered.store.scanning_allowed = False  # type: ignore[attr-defined]
    assert recovered.texts == dedup.texts
    info = recovered.check(article(devset, "cairo-metro", 3, id="cairo-copy"))
    assert (info.status, info.duplicate_of) == ("duplicate", "cairo-metro")
    info = recovered.check(article(devset, "saudi-metro", 4, id="copy-2"))
    assert (info.status, info.duplicate_of) == ("duplicate", "saudi-metro")


def test_an_older_stores_text_entries_are_still_read(devset: dict[str, dict]) -> None:
    """A store written before the text hash moved into the article's entry keeps ``h:<text_hash>`` entries."""
    first = article(devset, "saudi-metro")
    moment = first.fetched_at.timestamp()
    entry = {"status": "unique", "duplicate_of": None, "similarity": None, "cluster_id": first.id, "root": first.id}
    old = StrictStore(
        {f"a:{first.id}": entry | {"t": moment, "n": 10}, f"h:{first.text_hash}": {"id": first.id, "t": moment}}
    )
    old.scanning_allowed = True
    dedup = Deduplicator(old)
    dedup.rebuild_index()
    old.scanning_allowed = False
    info = dedup.check(article(devset, "saudi-metro", 1, id="copy"))
    assert (info.status, info.duplicate_of) == ("duplicate", first.id)
