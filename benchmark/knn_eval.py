"""Top-1 accuracy of the `knn` doctor (retrieval vote, no LLM) on a case file, with a bootstrap 95% CI.

Every case runs as a real encounter through `EncounterRunner` (image request, measurement, retrieval
with the case's own items excluded, vote, judge), so this measures exactly what `clinsim run
--doctor-model knn` does, only without starting any language model: the knn doctor never asks the
patient, and the judge's string rules settle its exact diagnosis names.

    python -m benchmark.knn_eval --cases clinsim-data/bank --n 60
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from agents.llm.scripted import ScriptedModel
from benchmark.metrics import accuracy
from benchmark.records import EpisodeRecord
from sim.case import Case
from sim.config import Settings
from sim.encounter.graph import Retriever
from sim.encounter.runner import EncounterRunner


def knn_settings(settings: Settings) -> Settings:
    data = settings.model_dump()
    data["roles"]["doctor"]["backend"] = "knn"
    data["encounter"]["llm_judge"] = False
    return Settings.model_validate(data)


def evaluate_knn(settings: Settings, cases: list[Case], case_dir: Path | None, retriever: Retriever,
                 on_episode: Callable[[EpisodeRecord], None] | None = None) -> dict:
    """{"top1": {mean, lo, hi, n}, "topk": {...}, "errors": n, "records": [...]} over `cases`."""
    # The knn doctor never speaks to the patient; a scripted stand-in keeps the embedded server off.
    runner = EncounterRunner(knn_settings(settings), models={"patient": ScriptedModel(["I don't know."], cycle=True)},
                             retriever=retriever)
    records = []
    for case in cases:
        record = runner.run(case, case_dir, run_id="knn-eval")
        records.append(record)
        if on_episode is not None:
            on_episode(record)
    return {"top1": accuracy(records, "top1"), "topk": accuracy(records, "topk"),
            "errors": sum(r.termination == "error" for r in records), "records": records}


def main(
    cases: Path = Path("clinsim-data/bank"),
    n: int = 60,
    k: int | None = None,
    data_dir: Path | None = None,
) -> None:
    """Run the knn doctor on the first N cases of CASES against the configured store and print top-1 accuracy."""
    from rich.progress import Progress

    from benchmark.metrics import format_ci
    from retrieval.retriever import make_retriever
    from sim.cli.common import console, fail, settings
    from sim.loaders import load_cases

    overrides = {"retrieval.k": k, "data_dir": str(data_dir) if data_dir else None}
    cfg = settings({key: value for key, value in overrides.items() if value is not None})
    retriever = make_retriever(cfg, notify=lambda message: console.print(message, highlight=False))
    if retriever is None:
        fail("the knn doctor needs the case store; see the line above")
    chosen = load_cases(cases)[:n]
    with Progress(console=console) as progress:
        task = progress.add_task("knn encounters", total=len(chosen))
        result = evaluate_knn(cfg, chosen, cases if cases.is_dir() else cases.parent, retriever,
                              on_episode=lambda record: progress.advance(task))
    console.print(f"knn doctor (k={cfg.retrieval.k}, embedder {retriever.embedders.image.name}) on "
                  f"{len(chosen)} cases of {cases}: top-1 {format_ci(result['top1'])}, "
                  f"top-{cfg.encounter.top_k} {format_ci(result['topk'])}; errors {result['errors']}", highlight=False)


if __name__ == "__main__":  # pragma: no cover
    import typer

    typer.run(main)
