"""Retrieval metrics on hand-made rankings, and `clinsim bench retrieval` end to end on a tiny bank."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

from benchmark.retrieval.metrics import auroc, kth_neighbour_distance, ranked_relevance, ranking_metrics
from tests.conftest import shared_file


def test_metrics_on_a_hand_made_ranking():
    scores = np.array([[0.9, 0.8, 0.7, 0.6, 0.5]])
    relevant = np.array([[False, True, False, True, False]])  # hits at ranks 2 and 4
    metrics = ranking_metrics(scores, relevant)
    assert metrics.recall_at == {1: 0.0, 5: 1.0, 10: 1.0}
    assert metrics.precision_at_10 == pytest.approx(0.2)  # 2 hits over 10 slots, even with 5 items
    assert metrics.mean_average_precision == pytest.approx((1 / 2 + 2 / 4) / 2)
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    assert metrics.ndcg_at_10 == pytest.approx(dcg / (1 + 1 / math.log2(3)))


def test_metrics_average_over_queries_and_score_queries_without_relevant_items_zero():
    scores = np.array([[0.9, 0.1], [0.1, 0.9], [0.5, 0.4]])
    relevant = np.array([[True, False], [True, False], [False, False]])
    metrics = ranking_metrics(scores, relevant, ks=(1, 2))
    assert (metrics.n_queries, metrics.n_without_relevant) == (3, 1)
    assert metrics.recall_at == {1: pytest.approx(1 / 3), 2: pytest.approx(2 / 3)}
    assert metrics.mean_average_precision == pytest.approx((1 + 0.5 + 0) / 3)
    assert metrics.ndcg_at_10 == pytest.approx((1 + 1 / math.log2(3) + 0) / 3)


def test_ties_count_against_the_query():
    ranked = ranked_relevance(np.zeros((1, 3)), np.array([[True, False, False]]))
    assert ranked.tolist() == [[False, False, True]]
    assert ranking_metrics(np.zeros((1, 3)), np.array([[True, False, False]])).recall_at[1] == 0.0


def test_auroc_and_kth_neighbour_distance():
    assert auroc(np.array([0.1, 0.2]), np.array([0.3, 0.4])) == 1.0
    assert auroc(np.array([0.1, 0.2]), np.array([0.3, 0.05])) == 0.5
    assert auroc(np.array([0.1]), np.array([0.1])) == 0.5
    gallery = np.eye(3, dtype=np.float32)
    query = np.array([[1.0, 0.0, 0.0]], dtype=np.float32)
    assert kth_neighbour_distance(query, gallery, 1)[0] == pytest.approx(0.0)
    assert kth_neighbour_distance(query, gallery, 2)[0] == pytest.approx(1.0)


@pytest.fixture(scope="module")
def quick_bank_model(tmp_path_factory):
    """A data dir whose default 'bank' embedder is a few-step model (the real one trains for minutes)."""
    from retrieval.embedder_registry import ensure_bank_checkpoint

    data_dir = tmp_path_factory.mktemp("bench-data")
    ensure_bank_checkpoint(data_dir, steps=3, n_cases=22)
    return data_dir


def _bench(data_dir, *args):
    from sim.cli.main import app

    return CliRunner().invoke(app, ["--data-dir", str(data_dir), "bench", "retrieval", *args, "--no-minilm",
                                    "--latency-samples", "3"])  # fmt: skip


def test_bench_on_a_tiny_bank_writes_the_documented_json(quick_bank_model, tmp_path):
    out = tmp_path / "bench.json"
    result = _bench(quick_bank_model, "--dataset", "bank", "--bank-cases", "33", "--json", str(out))
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert set(report["tasks"]) == {"image->image", "image->report", "report->image", "report->report",
                                    "image->image (region queries)"}  # fmt: skip
    image_task = report["tasks"]["image->image"]["methods"]
    assert {"random", "pixels", "pixels-centred", "openclip-bank"} <= set(image_task)
    assert {"R@1", "R@5", "R@10", "P@10", "mAP", "nDCG@10", "latency_ms_p50", "latency_ms_p95"} <= set(
        image_task["pixels"]
    )
    assert "tfidf" in report["tasks"]["report->report"]["methods"]
    assert "openclip-bank +region" in report["tasks"]["image->image (region queries)"]["methods"]
    ood = report["ood"]["methods"]["pixels"]
    assert {"noise", "photographs"} <= set(ood) and 0.0 <= ood["noise"]["auroc"] <= 1.0
    assert "image->image" in result.output  # the table was printed


def test_bench_rejects_an_unknown_dataset(tmp_path):
    result = _bench(tmp_path, "--dataset", "mnist")
    assert result.exit_code == 1
    assert "unknown dataset" in result.output


def test_bench_on_pneumoniamnist_and_iu_quick_runs(quick_bank_model, tmp_path):
    npz = shared_file("medmnist", "pneumoniamnist.npz")
    iu = shared_file("iu-xray", "NLMCXR_reports.tgz")
    out = tmp_path / "pm.json"
    result = _bench(quick_bank_model, "--dataset", f"pneumoniamnist:{npz}", "--limit", "20", "--gallery-limit", "200",
                    "--train-steps", "0", "--no-bank-embedder", "--json", str(out))  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["tasks"]["image->image"]["methods"]["pixels"]["P@10"] > 0.6
    assert "bank" in report["ood"]["outlier_sets"]
    out = tmp_path / "iu.json"
    result = _bench(quick_bank_model, "--dataset", f"iu-xray:{iu}", "--limit", "30", "--no-bank-embedder",
                    "--json", str(out))  # fmt: skip
    assert result.exit_code == 0, result.output
    tasks = json.loads(out.read_text())["tasks"]
    assert tasks["report->report"]["n_gallery"] == 3425
    methods = tasks["report->report"]["methods"]
    assert methods["tfidf"]["P@10"] > methods["random"]["P@10"]
    assert "labelled-text" in methods  # trained on the other half's labels; queries come from the held-out half


def test_labelled_text_embedder_ranks_by_label_where_wording_misleads():
    """Reports whose label shows in a few synonyms among much shared filler: TF-IDF ranks by the filler,
    the embedder trained on other reports' labels ranks by the label."""
    import numpy as np

    from retrieval.embedders.labelled_text import LabelledTextEmbedder
    from retrieval.embedders.tfidf import TfidfEmbedder

    rng = np.random.default_rng(0)
    synonyms = {
        "effusion": ["effusion", "fluid", "meniscus", "blunting", "layering", "pleural"],
        "cardiomegaly": ["cardiomegaly", "enlarged", "heart", "silhouette", "cardiac", "ctr"],
        "normal": ["clear", "normal", "unremarkable", "expanded", "negative", "stable"],
    }
    filler = [f"word{i}" for i in range(40)]

    def report(label):  # one word of the label among twelve of filler
        words = list(rng.choice(synonyms[label], 1)) + list(rng.choice(filler, 12))
        return " ".join(rng.permutation(words))

    labels = [list(synonyms)[i % 3] for i in range(240)]
    texts = [report(label) for label in labels]
    train, test = range(120), range(120, 240)
    trained = LabelledTextEmbedder.fit([texts[i] for i in train], [{labels[i]} for i in train])
    assert trained.dim == 3 and sorted(trained.labels) == sorted(synonyms)

    def precision_at_5(vectors):
        scores = vectors[list(test)] @ vectors.T
        scores[np.arange(len(test)), list(test)] = -np.inf
        top = np.argsort(-scores, axis=1)[:, :5]
        return float(np.mean([[labels[j] == labels[q] for j in row] for q, row in zip(test, top)]))

    tfidf = precision_at_5(TfidfEmbedder.fit(texts).embed_texts(texts))
    learned = precision_at_5(trained.embed_texts(texts))
    assert learned > 0.9 and learned > tfidf + 0.2, (learned, tfidf)
