"""`clinsim bench perf`: harness overhead, store latency, ingest throughput, prompt tokens, concurrency and
memory, measured side by side in one run; prints target against measured and writes the figures as JSON
(keys documented in `benchmark/perf/__init__.py`)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from sim.cli.common import console, fail, settings

SECTIONS = (
    "generating the case bank",
    "embedded model latency",
    "harness overhead",
    "store latency",
    "ingest throughput",
    "prompt tokens",
    "concurrency",
    "memory",
    "embedder training",
    "speculative decoding",
)


def perf(
    json_out: Annotated[Path | None, typer.Option("--json", help="write every figure to this JSON file")] = None,
    quick: Annotated[
        bool,
        typer.Option(
            "--quick",
            help="a few minutes: stores up to 10k vectors, smaller runs; "
            "the embedded model is skipped if it cannot start",
        ),
    ] = False,
    smoke: Annotated[bool, typer.Option("--smoke", hidden=True, help="seconds: tiny sizes, for tests")] = False,
    only: Annotated[
        str | None,
        typer.Option(
            "--only",
            help="comma-separated sections to run (the rest are skipped): "
            "embedded, harness, store, ingest, prompt_tokens, concurrency, memory, "
            "training, speculative; "
            "scale_out = concurrency against the remote (scripted) model only",
        ),
    ] = None,
    speculative: Annotated[
        str | None,
        typer.Option(
            "--speculative",
            help="speculative decoding arms to compare on real encounters, comma-separated, each "
            "MODE[:FIELD=VALUE...] with FIELDs of [embedded], e.g. off,ngram-mod,draft:draft_n_max=3:draft_p_min=0.75 "
            "(off is added if missing); default: the plan's (full: off, every n-gram mode, the draft model)",
        ),
    ] = None,
    rounds: Annotated[
        int | None,
        typer.Option(
            "--rounds",
            min=1,
            help="speculative decoding: rounds of all arms (alternating); default: the plan's (full 2)",
        ),
    ] = None,
    episodes: Annotated[
        int | None,
        typer.Option(
            "--episodes",
            min=1,
            help="speculative decoding: encounters per arm and round (perf-bank cases); default: the plan's (full 3)",
        ),
    ] = None,
) -> None:
    """Measure performance against the targets: harness overhead per turn, Chroma latency and recall at
    1k-100k vectors (persistent and server), ingest images/s, doctor prompt tokens against an
    AgentClinic-style prompt, concurrency speed-up, peak memory, first-use training of the default embedder,
    and speculative decoding's modes side by side on real encounters (`--speculative`).

    Every figure is a ratio or a distribution measured in this one run (the machine may be busy); none
    is pass/fail. The full run takes several minutes (filling a 100k-vector store dominates) and trains
    the default embedder first if it has never been trained.
    """
    from dataclasses import replace

    from benchmark.perf.speculative import parse_arms
    from benchmark.perf.suite import PLANS, SECTION_KEYS, run_suite

    plan = PLANS["smoke" if smoke else "quick" if quick else "full"]
    if speculative is not None or rounds is not None or episodes is not None:
        plan = replace(
            plan,
            speculative_arms=tuple(speculative.split(",")) if speculative is not None else plan.speculative_arms,
            speculative_rounds=rounds or plan.speculative_rounds,
            speculative_episodes=episodes or plan.speculative_episodes,
        )
    chosen = None
    if only is not None:
        chosen = {name.strip() for name in only.split(",") if name.strip()}
        unknown = sorted(chosen - set(SECTION_KEYS))
        if unknown or not chosen:
            fail(
                f"--only: unknown section {', '.join(unknown) or '(none given)'}; choose from {', '.join(SECTION_KEYS)}"
            )
    cfg = settings()
    if plan.speculative_arms:  # checked before the minutes of the other sections
        try:
            parse_arms(",".join(plan.speculative_arms), cfg.embedded)
        except ValueError as error:
            fail(f"--speculative: {error}")
    columns = [
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
    ]
    with tempfile.TemporaryDirectory(prefix="clinsim-perf-") as work, Progress(*columns, console=console) as bar:
        task = bar.add_task("performance", total=len(SECTIONS), detail="")

        def step(message: str) -> None:
            if message in SECTIONS:
                bar.update(task, completed=SECTIONS.index(message), description=message, detail="")
            else:
                bar.update(task, detail=message)

        report = run_suite(cfg, plan, Path(work), step, chosen)
        bar.update(task, completed=len(SECTIONS), description="done", detail="")
    print_report(report)
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        console.print(f"[dim]wrote {json_out}[/]")


def _fmt(value, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        value = f"{value:,.3f}".rstrip("0").rstrip(".") if abs(value) < 100 else f"{value:,.0f}"
    return f"{value} {unit}".strip()


def _met(met) -> str:
    return "-" if met is None else "[green]met[/]" if met else "[red]not met[/]"


def print_report(report: dict) -> None:
    m = report["machine"]
    console.print(
        f"[bold]clinsim bench perf[/] ({report['mode']}): {m['nproc']} CPUs ({m['cpu_model']}), "
        f"{m['ram_gb']} GB RAM, load {m['load_avg_1m']} -> {m.get('load_avg_1m_end')}, "
        f"{report['seconds']:.0f} s",
        highlight=False,
    )
    table = Table(title="targets", title_justify="left")
    for column in ("measurement", "target", "measured", "", "note"):
        table.add_column(column, no_wrap=column in ("target", "measured", ""))
    for row in report["targets"]:
        table.add_row(row["name"], row["target"], _fmt(row["measured"], row["unit"]), _met(row["met"]), row["note"])
    console.print(table)
    _print_store(report.get("store", {}))
    _print_details(report)
    _print_speculative(report.get("speculative", {}))
    for name in (
        "embedded",
        "harness",
        "store",
        "ingest",
        "prompt_tokens",
        "concurrency",
        "memory",
        "training",
        "speculative",
    ):
        section = report.get(name, {})
        for key in ("error", "skipped"):
            if key in section:
                console.print(f"[yellow]{name}: {key}: {section[key]}[/]", highlight=False)
    for note in report.get("notes", []):
        console.print(f"[dim]note: {note}[/]", highlight=False)


def _print_index_alone(store: dict) -> None:
    """The store's p95 beside the same queries answered by the index alone (raw HNSW, exact numpy)."""
    table = Table(title="store against the index alone (same vectors and queries; p95 ms)", title_justify="left")
    for column in (
        "store",
        "vectors",
        "kind",
        "store",
        "Chroma ids only",
        "raw HNSW",
        "store / raw",
        "raw recall@10",
        "exact numpy",
    ):
        table.add_column(column, justify="right" if column not in ("store", "kind") else "left")
    for backend in ("persistent", "server"):
        for kind, sizes in store.get(backend, {}).items():
            for size, row in sizes.items():
                alone = row.get("index_alone", {})
                raw = alone.get("raw_hnsw", {})
                ratio = alone.get("store_over_raw_p95")
                table.add_row(
                    backend,
                    f"{int(size):,}",
                    kind,
                    _fmt(row["latency_ms"]["p95"]),
                    _fmt(alone.get("chroma_ids_only", {}).get("latency_ms", {}).get("p95")),
                    _fmt(raw.get("latency_ms", {}).get("p95") or raw.get("skipped")),
                    _fmt(round(ratio, 1) if ratio else None),
                    _fmt(raw.get("recall_at_10")),
                    _fmt(alone.get("exact_numpy", {}).get("latency_ms", {}).get("p95")),
                )
    if table.row_count:
        console.print(table)


def _print_store(store: dict) -> None:
    if not store.get("persistent"):
        return
    hnsw = ", ".join(f"{k}={v}" for k, v in store["hnsw"].items())
    table = Table(
        title=f"store: {store['queries']} single queries at k={store['k']}, {store['dim']}-d vectors; HNSW {hnsw}",
        title_justify="left",
    )
    for column in (
        "store",
        "vectors",
        "kind",
        "insert/s",
        "p50 ms",
        "p95 ms",
        "recall@10",
        "filtered p95 ms",
        "filtered recall",
        "$ne filter p95 ms",
        "query RSS MB",
    ):
        table.add_column(column, justify="right" if column not in ("store", "kind") else "left")
    for backend in ("persistent", "server"):
        for kind, sizes in store.get(backend, {}).items():
            for size, row in sizes.items():
                table.add_row(
                    backend,
                    f"{int(size):,}",
                    kind,
                    _fmt(row.get("inserts_per_s")),
                    _fmt(row["latency_ms"]["p50"]),
                    _fmt(row["latency_ms"]["p95"]),
                    _fmt(row["recall_at_10"]),
                    _fmt(row.get("filtered", {}).get("latency_ms", {}).get("p95")),
                    _fmt(row.get("filtered", {}).get("recall_at_10")),
                    _fmt(row.get("filtered_chroma_where", {}).get("latency_ms", {}).get("p95")),
                    _fmt(row.get("peak_rss_mb")),
                )
    console.print(table)
    _print_index_alone(store)
    sweeps = [
        (kind, size, row["ef_search_sweep"])
        for kind, sizes in store["persistent"].items()
        for size, row in sizes.items()
        if row.get("ef_search_sweep")
    ]
    if sweeps:
        table = Table(title="store: ef_search trade-off (persistent; recall@10 / p95 ms)", title_justify="left")
        table.add_column("vectors")
        table.add_column("kind")
        for point in sweeps[0][2]:
            table.add_column(f"ef {point['ef_search']}", justify="right")
        for kind, size, sweep in sweeps:
            table.add_row(
                f"{int(size):,}", kind, *[f"{p['recall_at_10']:.3f} / {p['latency_ms']['p95']:.1f}" for p in sweep]
            )
        console.print(table)


def _print_details(report: dict) -> None:
    table = Table(title="details", title_justify="left", show_header=False)
    table.add_column("what")
    table.add_column("figures")
    h = report.get("harness", {})
    if "overhead_ms_per_turn" in h:
        table.add_row(
            "harness",
            f"{h['episodes']} episodes, {h['turns_per_episode']} turns, {h['calls_per_turn']} calls/turn; "
            f"overhead/turn p50 {h['overhead_ms_per_turn']['p50']} p95 {h['overhead_ms_per_turn']['p95']} ms, "
            f"with record writing {h['run_overhead_ms_per_turn']} ms, CPU {h['cpu_ms_per_turn']} ms",
        )
    e = report.get("embedded", {})
    if "call_s" in e:
        table.add_row(
            "embedded model",
            f"{e['model']}: per call p50 {e['call_s']['p50']} s (n={e['calls']}, "
            f"max_tokens {e['max_tokens']}, {e['tokens_out_mean']} tokens out); started in {e['startup_s']} s",
        )
    ingest = report.get("ingest", {})
    for source in ("bank", "pneumoniamnist"):
        s = ingest.get(source, {})
        if "images_per_s" in s:
            stages = ", ".join(f"{k} {v}" for k, v in s["stages_s"].items())
            table.add_row(
                f"ingest {source}",
                f"{s['images']} images in {s['seconds']} s = {s['images_per_s']}/s "
                f"({s['images_per_cpu_s']} per CPU-s; model {s['model_s']} s); stages s: {stages}",
            )
    if "weights" in ingest:
        table.add_row("ingest embedder", ingest["weights"])
    t = report.get("prompt_tokens", {})
    if "reduction" in t:
        comp = ", ".join(f"{k} {100 * v:.0f}%" for k, v in t["ours_composition"].items())
        table.add_row(
            "prompt tokens",
            f"{t['encounters']} encounters, per encounter: ours {t['ours_per_encounter']:,.0f}, "
            f"AgentClinic-style {t['baseline_per_encounter']:,.0f} ({100 * t['reduction']:.0f}% fewer), "
            f"history-only {t['baseline_history_only_per_encounter']:,.0f} "
            f"({100 * t['reduction_vs_history_only']:.0f}% fewer); ours is {comp}; {t['tokenizer']}",
        )
        if "evaluated_reduction" in t:
            table.add_row(
                "prompt tokens evaluated",
                f"with each conversation's evaluated prefix kept (llama-server slots): "
                f"ours {t['ours_evaluated_per_encounter']:,.0f}, AgentClinic-style "
                f"{t['baseline_evaluated_per_encounter']:,.0f} per encounter "
                f"({100 * t['evaluated_reduction']:.0f}% fewer)",
            )
    c = report.get("concurrency", {})
    for server in ("scripted_server", "embedded_server"):
        levels = c.get(server, {}).get("levels")
        if levels:
            speedups = ", ".join(
                f"{r['servers'] + ' ' if 'servers' in r else ''}C={r['concurrency']}"
                f"{' in ' + str(r['processes']) + ' processes' if r.get('processes', 1) > 1 else ''}: "
                f"{r['calls_per_s']} calls/s x{r['speedup']}"
                for r in levels
            )
            extra = f"; peak in flight {c[server]['peak_in_flight']}" if "peak_in_flight" in c[server] else ""
            table.add_row(f"concurrency {server.replace('_', ' ')}", speedups + extra)
    for r in c.get("embedded_server", {}).get("levels", []) or []:
        if "encounter_s" in r:
            roles = "; ".join(
                f"{role}: prompt {t['prompt_tokens']} tok in {t['prompt_s']} s ({t['prompt_tokens_per_s']}/s), "
                f"generated {t['gen_tokens']} tok in {t['gen_s']} s ({t['gen_tokens_per_s']}/s)"
                for role, t in (r.get("by_role") or {}).items()
            )
            table.add_row(
                f"encounters, {r['servers']} C={r['concurrency']}",
                f"{r['episodes']} encounters: p50 {r['encounter_s']['p50']} s, top-1 {r['top1']}, "
                f"{r['tokens_per_encounter']} tokens each, model calls {r['model_share']} of the wall time; "
                f"server peak RSS {r.get('server_peak_rss_mb')} MB; {roles}",
            )
    training = report.get("training", {})
    if "probe" in training:
        probe = training["probe"]
        text = (
            f"{probe['steps']} steps: text tower on all 128 positions {probe['padded_ms_per_step']} ms/step, on the "
            f"used ones {probe['trimmed_ms_per_step']} ms/step (x{probe['speedup']}); {training['torch_threads']} "
            "torch thread(s)"
        )
        if "first_use_s" in training:
            text += (
                f"; first use {training['first_use_s']} s (generating {training['generating_s']} s, training "
                f"{training['training_s']} s, {training['recipe']['steps']} steps on {training['recipe']['cases']} cases)"
            )
        table.add_row("embedder training", text)
    mem = report.get("memory", {})
    if "episode_run" in mem:
        run = mem["episode_run"]
        text = f"{run['episodes']}-episode run: peak {run['peak_rss_mb']} MB (after imports {run['rss_after_imports_mb']} MB)"
        if "store_query_process" in mem:
            q = mem["store_query_process"]
            text += f"; store query process ({q['vectors']:,} vectors): peak {q['peak_rss_mb']} MB"
        table.add_row("memory", text)
    console.print(table)


def _print_speculative(section: dict) -> None:
    """The speculative decoding arms side by side: speed, where the doctor's time went, drafts kept, memory,
    and whether the text stayed as it was with the mode off (each arm's settings are in the JSON)."""
    if not section.get("arms"):
        return
    table = Table(
        title=f"speculative decoding: {section['rounds']} round(s) x {section['episodes']} encounters per arm, "
        f"turn cap {section['turn_cap']}, retrieval {'on' if section['retrieval'] else 'off'}, "
        f"temperature doctor {section['temperature']['doctor']} / patient "
        f"{section['temperature']['patient']}",
        title_justify="left",
    )
    for column in (
        "arm",
        "p50 s",
        "p95 s",
        "x off",
        "doctor s/enc eval+gen",
        "gen tok/s doctor/patient",
        "drafts kept",
        "server MB",
        "top-1",
        "same text as off",
    ):
        table.add_column(column, justify="left" if column == "arm" else "right", no_wrap=column != "arm")
    for arm in section["arms"]:
        roles, same = arm["by_role"], arm["behaviour"]
        doctor = arm["per_encounter_s"].get("doctor", {})
        kept = (
            f"{arm['draft_accepted']}/{arm['draft_tokens']} ({100 * arm['draft_acceptance']:.0f}%)"
            if arm.get("draft_acceptance") is not None
            else "-"
        )
        table.add_row(
            arm["label"].replace(":", " "),
            _fmt(arm["encounter_s"]["p50"]),
            _fmt(arm["encounter_s"]["p95"]),
            _fmt(arm["ratio_to_off"]),
            f"{_fmt(doctor.get('prompt'))}+{_fmt(doctor.get('generation'))}",
            f"{_fmt(roles.get('doctor', {}).get('gen_tokens_per_s'))}/"
            f"{_fmt(roles.get('patient', {}).get('gen_tokens_per_s'))}",
            kept,
            _fmt(arm["server_peak_rss_mb"]),
            _fmt(arm["top1"]),
            f"{same['same_text']}/{same['compared']}" + (" off-off" if arm["mode"] == "off" else ""),
        )
    console.print(table)
    for label, why in section.get("unavailable", {}).items():
        console.print(f"[yellow]speculative arm {label} not measured: {why}[/]", highlight=False)
    for arm in section["arms"]:
        for difference in arm["behaviour"]["differences"]:
            console.print(
                f"[dim]{arm['label']}: {difference['case_id']} turn {difference['turn']} ({difference['role']}): "
                f"off {difference['off']!r} / arm {difference['arm']!r}[/]",
                highlight=False,
            )
