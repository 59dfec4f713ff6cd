"""The Chroma case store: idempotent writes, queries by image and text, exclusion, regions, OOD, one writer,
and a round trip through a real `chroma run` server."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from retrieval.chroma_server import chroma_executable
from retrieval.chroma_server import chroma_server as start_chroma_server
from retrieval.ingest import read_source, write_items
from retrieval.search import search
from retrieval.store import CaseStore, StoreError, collection_name
from sim.cli.main import app
from tests.retrieval_helpers import TinyEmbedder, noise_image, photographs


@pytest.fixture
def filled(tmp_path, tiny_bank):
    embedder = TinyEmbedder()
    store = CaseStore.open(tmp_path / "chroma")
    read = read_source("bank", tiny_bank)
    assert not read.problems
    summary = write_items(read.items, store, embedder, embedder)
    return store, embedder, read, summary


def test_collection_names_carry_the_embedder_and_stay_valid():
    assert collection_name("image", "pixels-32") == "cases-image-pixels-32"
    odd = collection_name("image", "openclip-hub-org/Name:with spaces")
    assert odd.startswith("cases-image-openclip-hub-org-Name-with-spaces-") and len(odd) <= 63
    assert collection_name("image", "a/b") != collection_name("image", "a:b")  # slugs alike, names not


def test_second_ingest_adds_nothing(filled):
    store, embedder, read, first = filled
    kinds = ["cases-image-tiny-test", "cases-appearance-tiny-test", "cases-report-tiny-test"]
    assert [c.name for c in first.collections] == kinds
    assert [c.added for c in first.collections] == [len(read.items)] * 3
    second = write_items(read.items, store, embedder, embedder)
    assert second.added == 0
    assert [c.total for c in second.collections] == [len(read.items)] * 3


def test_query_by_image_finds_the_same_image_first(filled):
    store, embedder, read, _ = filled
    item = read.items[5]
    collection = store.collection("image", embedder.name)
    result = search(collection, embedder.embed_images([item.image_path])[0], 3)
    assert result.neighbours[0].case_id == item.case_id
    assert result.neighbours[0].similarity == pytest.approx(1.0, abs=1e-4)
    assert result.ood.ood is False


def test_query_by_text_finds_matching_reports(filled):
    store, embedder, _read, _ = filled
    collection = store.collection("report", embedder.name)
    result = search(collection, embedder.embed_texts(["cardiomegaly enlarged cardiac silhouette"])[0], 3)
    assert [n.diagnosis for n in result.neighbours] == ["Cardiomegaly"] * 3


def test_excluded_case_never_comes_back(filled):
    store, embedder, read, _ = filled
    collection = store.collection("image", embedder.name)
    for item in read.items[:8]:
        result = search(collection, embedder.embed_images([item.image_path])[0], 10, exclude=item.case_id)
        assert len(result.neighbours) == 10
        assert item.case_id not in {n.case_id for n in result.neighbours}


def test_region_restricts_and_ranks_the_region_first(filled):
    store, embedder, read, _ = filled
    collection = store.collection("image", embedder.name)
    assert "right costophrenic angle" in collection.regions
    query = embedder.embed_images([read.items[0].image_path])[0]
    result = search(collection, query, 5, region="right costophrenic angle")
    assert result.neighbours and all("right costophrenic angle" in n.regions for n in result.neighbours)
    # Every right effusion leads with that region, so the effusions rank above anything else labelled with it.
    assert all(n.diagnosis == "Right pleural effusion" for n in result.neighbours[:4])


def test_region_text_conditioning_prefers_reports_about_the_region(filled):
    store, embedder, _, _ = filled
    collection = store.collection("report", embedder.name)
    query = embedder.embed_texts(["air in the left pleural space at the apex"])[0]
    result = search(collection, query, 3, region="left apex", text_space=embedder)
    assert [n.diagnosis for n in result.neighbours] == ["Left pneumothorax"] * 3


def test_noise_and_photographs_are_out_of_distribution(filled):
    store, embedder, read, _summary = filled
    collection = store.collection("image", embedder.name)
    assert collection.calibration["k"] == 5 and collection.calibration["queries"] == len(read.items)
    strangers = {"noise": noise_image(1), **photographs()}
    for name, image in strangers.items():
        verdict = search(collection, embedder.embed_images([image])[0], 3).ood
        assert verdict.ood is True, f"{name}: {verdict}"
    own = [
        search(collection, v, 3, exclude=i.case_id).ood.ood
        for i, v in zip(read.items, embedder.embed_images([i.image_path for i in read.items]))
    ]
    assert sum(own) <= 1  # the 99th percentile lets at most about 1 in 100 in-distribution queries through


def test_a_second_writer_is_refused(tmp_path):
    first, second = CaseStore.open(tmp_path / "chroma"), CaseStore.open(tmp_path / "chroma")
    with first.writing(), pytest.raises(StoreError, match="another process .* is writing"), second.writing():
        pass
    with second.writing():  # free again once the first writer is done
        pass


@pytest.fixture
def chroma_server(tmp_path):
    if not chroma_executable().is_file():
        pytest.skip(f"{chroma_executable()} not installed")
    with start_chroma_server(tmp_path / "server-data", tmp_path / "chroma.log", startup_timeout_s=60) as url:
        yield url


@pytest.mark.integration
def test_ingest_and_query_through_a_chroma_server(tmp_path, tiny_bank, tiny_embedder, chroma_server):
    runner = CliRunner()
    base = ["--data-dir", str(tmp_path / "data"), "store"]
    ingest = runner.invoke(app, [*base, "ingest", str(tiny_bank), "--kind", "bank", "--chroma-url", chroma_server])
    assert ingest.exit_code == 0, ingest.output
    again = runner.invoke(app, [*base, "ingest", str(tiny_bank), "--kind", "bank", "--chroma-url", chroma_server])
    assert "0 records added" in again.output
    image = tiny_bank / "images" / "bank-s7-00003.png"
    query = runner.invoke(
        app, [*base, "query", "--image", str(image), "-k", "3", "--json", "--chroma-url", chroma_server]
    )
    assert query.exit_code == 0, query.output
    answer = json.loads(query.output)
    assert answer["results"][0]["case_id"] == "bank-s7-00003" and answer["ood"] is False
    assert not (tmp_path / "data" / "chroma").exists()  # everything went to the server


def test_leaving_a_case_out_matches_a_chroma_filter_even_when_the_case_fills_the_slack(tmp_path):
    """`query_other_cases` drops the case's own items from an unfiltered query; a case with more near items
    than the slack makes it ask again with the filter. Either way the answer is the filtered one."""
    import numpy as np

    from retrieval.store import EXCLUDE_SLACK, StoreCollection

    store = CaseStore.open(tmp_path / "chroma")
    collection = StoreCollection(
        store.client.create_collection(
            "slack-test", embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
        )
    )
    rng = np.random.default_rng(0)
    centre = rng.normal(size=16)
    big = EXCLUDE_SLACK + 5  # case "big" has more items next to the query than the slack
    vectors = np.vstack([centre + 0.01 * rng.normal(size=(big, 16)), rng.normal(size=(40, 16))]).astype(np.float32)
    cases = ["big"] * big + [f"c{i}" for i in range(40)]
    collection.add([f"id{i}" for i in range(len(cases))], vectors, [{"case_id": c} for c in cases], [""] * len(cases))
    queries = np.vstack([centre, vectors[big + 3]]).astype(np.float32)
    got = collection.query_other_cases(queries, 5, ["big", "c3"])
    for row, case in enumerate(["big", "c3"]):
        expected = collection.query(queries[row : row + 1], 5, {"case_id": {"$ne": case}})[0]
        assert [h.id for h in got[row]] == [h.id for h in expected]
        assert len(got[row]) == 5 and all(h.metadata["case_id"] != case for h in got[row])
    assert [h.metadata["case_id"] for h in collection.query_other_cases(queries[:1], 3, [None])[0]] == ["big"] * 3
