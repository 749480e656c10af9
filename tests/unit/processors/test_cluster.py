"""Story clustering on the dev set: same event from other outlets joins, different events never do."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from processors.cluster import ClusterConfig, StoryClusterer, _WordTable, story_facts, story_keys
from processors.dedup import Deduplicator
from processors.records import DedupInfo, EnrichedArticle, Entity, Place, json_with
from processors.story_index import Stored
from tests.unit.processors.devset import load_devset, to_article

# What enrichment would find in the dev set (a lexicon stands in for processors.enrich here).
PLACES = {
    "رفح": ("Rafah", 281129), "تل السلطان": ("Tell as-Sultan", None), "خان يونس": ("Khan Yunis", 281133),
    "كرم أبو سالم": ("Kerem Shalom", None), "بيروت": ("Beirut", 276781), "ساحة النجمة": ("Nejmeh Square", None),
    "الفاشر": ("El Fasher", 379252), "زمزم": ("Zamzam", None), "طويلة": ("Tawila", None),
    "بورتسودان": ("Port Sudan", 377039), "دمشق": ("Damascus", 170654), "حلب": ("Aleppo", 170063),
    "دير الزور": ("Deir ez-Zor", 170794), "البوكمال": ("Abu Kamal", 174186), "الميادين": ("Mayadin", 166365),
    "الشدادي": ("Ash Shaddadah", None), "القاهرة": ("Cairo", 360630), "طريبيل": ("Trebil", None),
    "بغداد": ("Baghdad", 98182), "الحوز": ("Al Haouz", None), "أمزميز": ("Amizmiz", None),
    "مراكش": ("Marrakesh", 2542997), "العقبة": ("Aqaba", 250774), "عمان": ("Amman", 250441),
    "صفاقس": ("Sfax", 2467454), "لامبيدوزا": ("Lampedusa", None), "الحديدة": ("Al Hudaydah", 79415),
    "درنة": ("Derna", 87205), "طرابلس": ("Tripoli", 2210247), "الرياض": ("Riyadh", 108410), "غزة": ("Gaza", None),
}  # fmt: skip
COUNTRIES = ["لبنان", "السودان", "سوريا", "مصر", "العراق", "المغرب", "الأردن", "تونس", "اليمن", "ليبيا", "السعودية"]
ACTORS = {
    "نبيه بري": "PER", "ميشال عون": "PER", "قيس سعيد": "PER", "سامح شكري": "PER", "الأمم المتحدة": "ORG",
    "الدعم السريع": "ORG", "منظمة الصحة العالمية": "ORG", "الهلال الأحمر": "ORG", "القيادة المركزية": "ORG",
    "الحوثي": "ORG", "الحوثيون": "ORG", "الأونروا": "ORG", "صندوق النقد الدولي": "ORG", "الحرس البحري": "ORG",
    "الدفاع المدني": "ORG", "مصرف لبنان": "ORG", "اليونيسف": "ORG", "الجيش الإسرائيلي": "ORG",
}  # fmt: skip


def enrich(article: Any, dedup: DedupInfo) -> EnrichedArticle:
    text = article.title + "\n" + article.text
    places = [Place(name=n, name_en=en, geonames_id=gid, kind="city") for n, (en, gid) in PLACES.items() if n in text]
    places += [Place(name=n, kind="country") for n in COUNTRIES if n in text]
    entities = [
        Entity(text=n, type=t, start=text.index(n), end=text.index(n) + len(n))  # type: ignore[arg-type]
        for n, t in ACTORS.items()
        if n in text
    ]
    return EnrichedArticle(**article.model_dump(), places=places, entities=entities).model_copy(update={"dedup": dedup})


def run_pipeline(order: list[dict]) -> dict[str, str]:
    """Dedup then cluster, as the lead's agents do, over one dict store each."""
    dedup, clusterer = Deduplicator({}), StoryClusterer({})
    clusters = {}
    for position, item in enumerate(order):
        article = to_article(item, position)
        clusters[item["id"]] = clusterer.assign(enrich(article, dedup.check(article)))
    return clusters


@pytest.fixture(scope="module")
def devset() -> tuple[list[dict], list[dict]]:
    return load_devset()


def test_same_event_from_other_outlets_shares_the_cluster(devset: tuple[list[dict], list[dict]]) -> None:
    items, pairs = devset
    clusters = run_pipeline(items)
    for pair in pairs:
        if pair["label"] == "same_story":
            assert clusters[pair["a"]] == clusters[pair["b"]], pair


def test_reprints_share_their_originals_cluster(devset: tuple[list[dict], list[dict]]) -> None:
    items, _ = devset
    clusters = run_pipeline(items)
    for item in items:
        assert clusters[item["id"]] == clusters[item["family"]] or item["family"] not in clusters


def test_different_events_never_share_a_cluster(devset: tuple[list[dict], list[dict]]) -> None:
    items, pairs = devset
    clusters = run_pipeline(items)
    for pair in pairs:
        if pair["label"] == "distinct":
            assert clusters[pair["a"]] != clusters[pair["b"]], pair
    story = {i["id"]: i.get("story", i["family"]) for i in items}
    by_cluster: dict[str, set[str]] = {}
    for item_id, cluster in clusters.items():
        by_cluster.setdefault(cluster, set()).add(story[item_id])
    assert all(len(stories) == 1 for stories in by_cluster.values()), by_cluster


def test_assign_is_idempotent_and_bounded_in_time(devset: tuple[list[dict], list[dict]]) -> None:
    items, _ = devset
    by_id = {i["id"]: i for i in items}
    clusterer = StoryClusterer({}, ClusterConfig(window_hours=36))
    original = to_article(by_id["sudan-fasher"], 0)
    first = clusterer.assign(enrich(original, DedupInfo(cluster_id=original.id)))
    assert first == original.id
    assert clusterer.assign(enrich(original, DedupInfo(cluster_id="other"))) == first
    other = to_article(by_id["sudan-fasher~other-outlet"], 1)
    late = other.model_copy(update={"published_at": original.published_at + timedelta(hours=40)})
    assert clusterer.assign(enrich(late, DedupInfo(cluster_id=late.id))) == late.id  # too late to be one event


def test_state_is_json_and_expires(devset: tuple[list[dict], list[dict]]) -> None:
    items, _ = devset
    store: dict[str, Any] = {}
    clusterer = StoryClusterer(store)
    article = to_article(items[0], 0)
    clusterer.assign(enrich(article, DedupInfo(cluster_id=article.id)))
    json.dumps(store)
    assert clusterer.expire(article.published_at + timedelta(days=6)) == 0
    assert clusterer.expire(article.published_at + timedelta(days=8)) == len(store) or not store
    assert store == {}


def test_a_restarted_worker_clusters_the_second_half_as_an_uninterrupted_one(
    devset: tuple[list[dict], list[dict]],
) -> None:
    """Halfway through, the table is recovered (a JSON round trip) into a new clusterer that rebuilds its index
    from it: the clusters are those of a run without the restart, and only one key per article was stored."""
    items, _ = devset
    expected = run_pipeline(items)
    dedup, store = Deduplicator({}), {}
    clusterer, clusters = StoryClusterer(store), {}
    half = len(items) // 2
    for position, item in enumerate(items):
        if position == half:
            store = json.loads(json.dumps(store))
            clusterer = StoryClusterer(store)
            assert clusterer.rebuild_index() == half
        article = to_article(item, position)
        clusters[item["id"]] = clusterer.assign(enrich(article, dedup.check(article)))
    assert clusters == expected
    assert len(store) == len(items) and all(key.startswith("s:") for key in store)


def test_story_keys_skip_countries_and_normalise() -> None:
    article = EnrichedArticle(
        **to_article({"id": "x", "title": "t", "text": "غزة"}, 0).model_dump(),
        places=[
            Place(name="لبنان", kind="country"),
            Place(name="غزّة", kind="city"),
            Place(name="بيروت", geonames_id=1),
        ],
        entities=[Entity(text="نبيه برّي", type="PER", start=0, end=8), Entity(text="و", type="ORG", start=0, end=1)],
    )
    assert story_keys(article) == ["per:نبيه بري", "place:1", "place:غزه"]


def test_unconfirmed_text_link_is_dropped_but_kept_without_keys() -> None:
    clusterer = StoryClusterer({})
    base = to_article({"id": "b", "title": "t", "text": "نص أول عن حدث في بيروت " * 5}, 0)
    clusterer.assign(enrich(base, DedupInfo(cluster_id="b")))
    linked = to_article({"id": "c", "title": "t", "text": "نص ثان عن حدث آخر في طرابلس " * 5}, 1)
    assert clusterer.assign(enrich(linked, DedupInfo(cluster_id="b", similarity=0.2))) == "c"
    bare = to_article({"id": "d", "title": "t", "text": "نص ثالث بلا أماكن ولا أسماء " * 5}, 2)
    assert clusterer.assign(enrich(bare, DedupInfo(cluster_id="b", similarity=0.2))) == "b"


@pytest.mark.parametrize("max_words", [3, 40, 400])
def test_content_words_are_the_first_distinct_stems(devset: tuple[list[dict], list[dict]], max_words: int) -> None:
    """The first ``max_words`` distinct content stems in order of use (the lead holds the facts), sorted."""
    import zlib

    from processors.cluster import _light_stem, _stop_word

    clusterer = StoryClusterer({}, ClusterConfig(max_words=max_words))
    for item in devset[0][:20]:
        first_use: dict[int, None] = {}
        for word in clusterer._words.words(item["title"] + "\n" + item["text"]):
            if not _stop_word(word) and len(first_use) < max_words:
                first_use.setdefault(zlib.crc32(_light_stem(word).encode()))
        expected = sorted(first_use)
        assert clusterer.content_words(item["title"], item["text"]).tolist() == expected


def test_assigning_from_story_facts_sent_as_json_matches_assigning_the_article(devset: tuple[list[dict], list[dict]]):
    """The worker's path (facts made before clustering, the record's JSON completed with its dedup info after)
    gives the cluster and the record that assigning the article itself gives."""
    articles, _ = devset
    dedup, direct, packed = Deduplicator({}), StoryClusterer({}), StoryClusterer({})
    for position, item in enumerate(articles):
        article = to_article(item, position)
        enriched = enrich(article, dedup.check(article))
        facts = story_facts(enriched, packed.content_words(enriched.title, enriched.text))
        cluster = packed.assign_facts(facts)
        assert cluster == direct.assign(enriched.model_copy(deep=True))
        body = json_with(enriched.model_dump_json(exclude={"dedup"}).encode(), "dedup", facts.dedup.to_json())
        assert EnrichedArticle.model_validate_json(body) == enriched


def test_json_with_adds_one_field_to_any_object():
    assert json.loads(json_with(b'{"a":1}', "b", b'{"c":null}')) == {"a": 1, "b": {"c": None}}
    assert json.loads(json_with(b"{}", "b", b"[2]")) == {"b": [2]}


# Words that share their low 16 bits (the _WordTable slot) with others, so that slots clash often.
_WORDS = st.lists(st.sampled_from([low | high << 16 for low in (0, 1, 7, 0xFFFF) for high in (0, 1, 2, 0xFFFF)]))


@given(words=_WORDS, others=st.lists(_WORDS, max_size=6))
@settings(max_examples=300, deadline=None)
def test_word_overlaps_equal_the_plain_definition(words: list[int], others: list[list[int]]) -> None:
    """|A∩B| / min(|A|,|B|) for every other, whichever words clash in the table; one table serves every call."""
    as_array = lambda values: np.array(sorted(set(values)), dtype=np.uint32)  # noqa: E731
    expected = [
        len(set(words) & set(other)) / min(len(set(words)), len(set(other))) if words and other else 0.0
        for other in others
    ]
    assert _TABLE.overlaps(as_array(words), [as_array(other) for other in others]) == expected


_TABLE = _WordTable()


def _stored(cluster: str, keys: str) -> Stored:
    return Stored(cluster, 0.0, frozenset(keys), np.empty(0, dtype=np.uint32))


def test_the_best_candidate_has_most_words_then_most_keys_then_the_smallest_id() -> None:
    clusterer = StoryClusterer({}, ClusterConfig(min_shared_keys=2))
    candidates = [
        ("a", _stored("A", "x")),  # most words, one key only: not confirmed
        ("d", _stored("D", "xy")),
        ("c", _stored("C", "xy")),  # as many words and keys as d: the smaller id
        ("b", _stored("B", "xyz")),  # most keys, fewer words
        ("e", _stored("E", "x")),  # the text link: one key is enough, but its overlap is the lowest
    ]
    overlaps, own = [0.9, 0.5, 0.5, 0.4, 0.1], frozenset("xyz")
    assert clusterer._best(candidates, overlaps, [0, 1, 2, 3, 4], own, None) == "C"
    assert clusterer._best(candidates, overlaps, [0, 3, 4], own, None) == "B"
    assert clusterer._best(candidates, overlaps, [0, 4], own, "e") == "E"
    assert clusterer._best(candidates, overlaps, [0, 4], own, None) is None


class _CountingStore(dict[str, Any]):
    """A dict that counts its reads by key."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.reads: dict[str, int] = {}

    def get(self, key: str, default: Any = None) -> Any:
        self.reads[key] = self.reads.get(key, 0) + 1
        return super().get(key, default)


def test_a_rebuilt_index_spares_the_store_read_of_each_new_article(devset: tuple[list[dict], list[dict]]) -> None:
    """Before a rebuild an assigned article is found in the store (a restored table); after one, the index
    holds every stored article, so a new article's own key is not read (nor an original's that is gone)."""
    items, _ = devset
    first, second = to_article(items[0], 0), to_article(items[1], 1)
    writer = StoryClusterer({})
    cluster = writer.assign(enrich(first, DedupInfo(cluster_id=first.id)))
    restored = StoryClusterer(_CountingStore(writer.store))
    assert restored.assign(enrich(first, DedupInfo(cluster_id="other"))) == cluster  # from the store
    assert restored.rebuild_index() == 1
    restored.store.reads.clear()
    reprint = DedupInfo(status="duplicate", duplicate_of="gone", cluster_id="gone")
    assert restored.assign(enrich(second, reprint)) == "gone"
    assert restored.assign(enrich(first, DedupInfo(cluster_id="other"))) == cluster  # from the index
    assert restored.store.reads == {}
