"""Two stored papers found to be one are combined (PaperStore._combine): what refers to either is
kept, every old name still works, and papers that are not one stay apart. Also: collective authors
are keyed by their whole name (digest.text.author_key)."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from starlette.testclient import TestClient

from digest.config import Settings
from digest.models import PaperRecord
from digest.store import Store
from digest.store.merge import authors_overlap
from digest.text import author_key
from digest.tokens import make_token
from digest.web import create_app
from test_store_merge_cases import JOURNAL_DOI, PREPRINT_DOI, T0, biorxiv, ingest, journal, other_preprint


def test_feedback_link_naming_the_absorbed_paper_labels_the_survivor(sqlite_store: Store, tmp_path: Path) -> None:
    # A digest mailed the journal entry (p=doi:J) before the combine; its "more like this" link must
    # still work (get_paper finds the survivor by alias) and label the survivor, not raise.
    store = sqlite_store
    ingest(store, [biorxiv(aliases=())], [journal("A Different Journal Title", ("Alice Johnson", "Dan Other"), doi=JOURNAL_DOI)])
    user = store.upsert_user("ada@example.org")
    ingest(store, [biorxiv(2)])
    settings = Settings(data_dir=tmp_path, secret_key="k" * 40)  # type: ignore[arg-type]
    token = make_token("feedback", user.id, user.token_generation, settings=settings, d="2026-11-24")
    path = f"/feedback/{token}?k=more&p=doi:{JOURNAL_DOI}"
    with TestClient(create_app(settings, store), raise_server_exceptions=False) as client:
        page = client.get(path)
        assert page.status_code == 200
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert csrf is not None
        assert client.post(path, data={"csrf": csrf.group(1)}).status_code == 200
    assert store.labels(user.id) == [(f"doi:{PREPRINT_DOI}", 1)]


def test_journal_entry_first_then_two_preprints_naming_it_stay_two_papers(store: Store) -> None:
    # Two preprint DOIs naming one journal DOI are two papers (CHANGELOG; _combine refuses to join
    # them), also when the journal entry was stored first and both preprints come later.
    ingest(store, [journal("A Different Journal Title", doi=JOURNAL_DOI)], [biorxiv()], [other_preprint()])
    assert store.paper_count() == 2


def test_two_collaborative_groups_are_two_authors() -> None:
    # "The RECOVERY Collaborative Group" and "The PRINCIPLE Trial Collaborative Group" are two groups
    # (both keyed "group t"): muting one must not mute the other, nor one confirm the other's paper.
    one, other = "The RECOVERY Collaborative Group", "The PRINCIPLE Trial Collaborative Group"
    assert author_key(one) != author_key(other)
    assert not authors_overlap((one,), (other,))


def test_a_journal_author_line_naming_a_collaboration_is_that_collaboration() -> None:
    # APS-style journal entries credit "G. Aad et al. (ATLAS Collaboration)": keyed "collaboration) g",
    # the one key every "G. ... et al. (... Collaboration)" shares, as "collaboration t" was.
    assert author_key("G. Aad et al. (ATLAS Collaboration)") != author_key("G. Abbiendi et al. (OPAL Collaboration)")


def test_combine_in_one_batch_with_the_journal_entry_new(store: Store) -> None:
    # The journal entry is first stored in the very batch whose preprint record absorbs it: it never
    # counts as a new paper, and the survivor keeps one "new" event.
    store.ingest_records("bio", [biorxiv(aliases=())], now=T0)
    watermark = store.max_seq()
    capture = [journal("A Different Journal Title", ("Alice Johnson", "Dan Other"), doi=JOURNAL_DOI, venue="Nature"), biorxiv(2)]
    first = store.ingest_records("mixed", capture, now=T0 + timedelta(hours=1))
    assert (first.new, first.merged, first.new_versions) == (0, 1, 1)
    assert [kind for _, kind, _ in store.papers_after(watermark)] == ["version"]
    assert [kind for _, kind, _ in store.papers_after(0)] == ["new", "version"]
    for records in (capture, capture[::-1]):
        store.ingest_records("mixed", records, now=T0 + timedelta(hours=1))
    again = store.ingest_records("mixed", capture, now=T0 + timedelta(hours=2))
    assert (again.new, again.merged, again.new_versions) == (0, 0, 0)
    [paper] = store.list_papers()
    assert paper.id == f"doi:{PREPRINT_DOI}" and paper.venue == "Nature" and paper.version == 2
    assert store.get_paper(f"doi:{JOURNAL_DOI}").id == paper.id and paper.seq == store.max_seq()


def test_combine_in_one_batch_the_other_way_round_keeps_the_survivors_event(store: Store) -> None:
    store.ingest_records("bio", [biorxiv(aliases=())], now=T0)
    capture = [biorxiv(2), journal("A Different Journal Title", ("Alice Johnson",), doi=JOURNAL_DOI)]
    assert store.ingest_records("mixed", capture, now=T0 + timedelta(hours=1)).new == 0
    [paper] = store.list_papers()
    assert paper.seq == store.max_seq() and [k for _, k, _ in store.papers_after(0)] == ["new", "version"]


def test_a_journal_entry_with_a_url_id_stays_findable_by_its_link(store: Store) -> None:
    # A journal entry stored by link (no DOI in its feed) that later gained the DOI: its old id works.
    link = "https://journal.example/articles/17"
    ingest(store, [biorxiv(aliases=())], [journal("A Different Journal Title", ("Alice Johnson", "Dan Other"), doi=None, link=link)],
           [journal("A Different Journal Title", ("Alice Johnson", "Dan Other"), doi=JOURNAL_DOI, link="https://other.example/17")])
    watermark = store.max_seq()
    ingest(store, [biorxiv(2)])
    assert store.paper_count() == 1 and store.get_paper(link).id == f"doi:{PREPRINT_DOI}"
    assert [kind for _, kind, _ in store.papers_after(watermark)] == ["version"]


def test_label_under_the_same_tag_keeps_the_survivors_polarity(store: Store) -> None:
    ingest(store, [biorxiv(aliases=())], [journal("A Different Journal Title", ("Alice Johnson", "Dan Other"), doi=JOURNAL_DOI)])
    user = store.upsert_user("a@example.org")
    store.add_label(user.id, "sleep", f"doi:{PREPRINT_DOI}", -1)
    store.add_label(user.id, "sleep", f"doi:{JOURNAL_DOI}", 1)
    store.add_label(user.id, "other", f"doi:{JOURNAL_DOI}", 1)
    ingest(store, [biorxiv(2)])
    assert store.labels(user.id, "sleep") == [(f"doi:{PREPRINT_DOI}", -1)]
    assert store.labels(user.id, "other") == [(f"doi:{PREPRINT_DOI}", 1)]


def test_a_chain_within_one_batch_ends_in_one_paper(store: Store) -> None:
    # C names A's DOI and A names B's, in one batch and in either order: one paper, every name finds it.
    third = "10.1101/2024.07.03.590003"

    def c(aliases: tuple[str, ...]) -> PaperRecord:
        return PaperRecord("biorxiv", third, "Third Title For Chains", ("Alice Johnson",), doi=third,
                           version=2 if aliases else 1, aliases=aliases)

    ingest(store, [biorxiv(aliases=())], [journal("A Different Journal Title", ("Alice Johnson", "Dan Other"), doi=JOURNAL_DOI)],
           [c(())])
    capture = [biorxiv(2), c((f"doi:{PREPRINT_DOI}",))]
    store.ingest_records("mixed", capture, now=T0 + timedelta(hours=5))
    again = store.ingest_records("mixed", capture[::-1], now=T0 + timedelta(hours=6))
    assert (again.new, again.merged, again.new_versions) == (0, 0, 0) and store.paper_count() == 1
    assert {store.get_paper(ref).id for ref in (PREPRINT_DOI, JOURNAL_DOI, third)} == {f"doi:{third}"}


def test_a_published_link_no_author_confirms_neither_merges_nor_combines(store: Store) -> None:
    # bioRxiv's "published" link is one source's word: a journal paper sharing no author with the
    # preprint (a mislink) stays its own paper, whichever came first.
    stranger = journal("A Different Journal Title", ("Xavier Moreau", "Yusuf Okafor"), doi=JOURNAL_DOI)
    ingest(store, [biorxiv(aliases=())], [stranger], [biorxiv(2)])
    assert store.paper_count() == 2
    ingest(store, [biorxiv(3)], [journal("A Different Journal Title", ("Xavier Moreau",), doi=JOURNAL_DOI)])
    assert store.paper_count() == 2 and store.get_paper(JOURNAL_DOI).id == f"doi:{JOURNAL_DOI}"


def test_a_journal_author_line_without_authors_still_combines(store: Store) -> None:
    # Many journal feeds list no authors: nothing contradicts the link then.
    ingest(store, [biorxiv(aliases=())], [journal("A Different Journal Title", (), doi=JOURNAL_DOI)], [biorxiv(2)])
    assert store.paper_count() == 1


def test_a_collaboration_written_with_or_without_its_hyphen_is_one_author() -> None:
    assert author_key("The Fermi-LAT Collaboration") == author_key("Fermi LAT Collaboration") == "fermi lat collaboration"


def test_combining_an_arxiv_paper_into_a_sent_preprint_forgets_the_biorxiv_version_sent(store: Store) -> None:
    """The preprint (bioRxiv v3) was mailed; the arXiv paper carrying the journal DOI is combined into
    it, and arXiv numbers the paper from then on (v1): the reader's "v3" was bioRxiv's number, so it
    is forgotten (0), and arXiv's v2 will be an update to them."""
    ingest(store, [biorxiv(3, aliases=())])
    user = store.upsert_user("ann@example.org")
    store.enqueue_digest(user.id, "daily", "2026-11-23", "<m@x>", "s", user.email, b"m", [f"doi:{PREPRINT_DOI}"],
                         0, store.max_seq(), [3])
    arxiv_paper = PaperRecord("arxiv-rss", "2405.09999", "Another Title Entirely for the Same Work",
                              ("Alice Johnson", "Bob Keller"), arxiv_id="2405.09999", version=1, doi=JOURNAL_DOI)
    store.ingest_records("arxiv", [arxiv_paper], now=T0 + timedelta(hours=1))
    assert store.paper_count() == 2
    store.ingest_records("bio", [biorxiv(3)], now=T0 + timedelta(hours=2))  # names the journal DOI: combined
    paper = store.get_paper("2405.09999")
    assert paper.id == f"doi:{PREPRINT_DOI}" and paper.version == 1
    assert store.sent_versions(user.id, [paper.id]) == {paper.id: 0}
