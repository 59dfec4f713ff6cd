"""Episodes in worker processes, for runs whose models are remote (an OpenAI-compatible cluster).

With remote models an episode mostly waits, and the harness's own work per model call (building the
request in LangChain and the openai client, parsing the reply, the graph step) is what limits how many
episodes one interpreter keeps going: measured against a local fake server, about 6 ms of CPU per call, so
one process saturates one core at a few hundred calls per second whatever the concurrency. Worker
processes each run their share of the episodes on threads of their own; records come back over a queue
and this process alone writes them (the run directory keeps one writer, so resume and crash safety are
unchanged).

Not for the embedded model (its servers belong to the process that started them: use more concurrency
instead), nor for experience (each episode's lesson must be stored before the next one starts), nor for
models handed over as Python objects (a worker builds its models from the settings).
"""

from __future__ import annotations

import multiprocessing
import queue as queues
import signal
from collections.abc import Callable

from sim.core.config import Settings
from sim.core.records import EpisodeRecord


def processes_refusal(settings: Settings, models: dict | None = None, recording: bool = False) -> str | None:
    """Why this run cannot use worker processes, or None when it can."""
    roles = ["doctor", "patient"] + (["judge"] if settings.encounter.llm_judge else [])
    embedded = [
        role
        for role in roles
        if settings.role(role).backend == "embedded" and not (role == "doctor" and settings.encounter.doctor != "llm")
    ]
    if embedded:
        return (
            f"the embedded model plays {', '.join(embedded)}: its servers belong to one process; use "
            "--concurrency for more episodes at once"
        )
    if settings.experience.enabled:
        return "experience is stored episode by episode in one process; run it without --processes"
    if models:
        return "models given as Python objects cannot be sent to worker processes; configure them by settings"
    if recording:
        return "recorded responses are written by one process; run it without --processes"
    return None


def process_executor(settings: Settings, *, run_id: str, processes: int, concurrency: int):
    """`run_episodes(..., execute=)` for worker processes."""
    return lambda todo, emit: run_in_processes(
        todo, settings, run_id=run_id, processes=processes, concurrency=concurrency, emit=emit
    )


def run_in_processes(
    todo: list,
    settings: Settings,
    *,
    run_id: str,
    processes: int,
    concurrency: int,
    emit: Callable[[EpisodeRecord], None],
) -> bool:
    """Run `todo` in `processes` workers with `concurrency` episodes at once in all; `emit` gets each record
    in this thread. True when Ctrl-C stopped the run: workers start nothing new, finish what runs, and their
    records are still emitted. Raises RuntimeError (after emitting what arrived) when a worker failed."""
    if not todo:
        return False
    context = multiprocessing.get_context("spawn")  # no fork of a process that has threads running
    channel = context.Queue()
    stop = context.Event()
    shards = [shard for shard in (todo[i::processes] for i in range(processes)) if shard]
    threads = [max(1, concurrency // len(shards) + (i < concurrency % len(shards))) for i in range(len(shards))]
    workers = [
        context.Process(
            target=_worker, args=(settings, shard, n, run_id, channel, stop), daemon=True, name=f"clinsim-worker-{i}"
        )
        for i, (shard, n) in enumerate(zip(shards, threads))
    ]
    for worker in workers:
        worker.start()
    interrupted, failures, finished = False, [], 0
    try:
        while finished < len(workers):
            try:
                kind, payload = channel.get(timeout=1.0)
            except queues.Empty:
                if not any(worker.is_alive() for worker in workers):
                    break  # a worker died without saying so (killed): what it did not send is not recorded
                continue
            except KeyboardInterrupt:
                interrupted = True
                stop.set()
                continue
            if kind == "record":
                emit(EpisodeRecord.model_validate_json(payload))
            elif kind == "failed":
                failures.append(payload)
            else:
                finished += 1
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=30)
            if worker.is_alive():
                worker.terminate()
    failures += [
        f"{worker.name} exited with code {worker.exitcode}" for worker in workers if worker.exitcode not in (0, None)
    ]
    if failures and not interrupted:
        raise RuntimeError(
            f"a worker process failed: {failures[0]} (finished episodes are recorded; --resume runs the rest)"
        )
    return interrupted


def _worker(settings: Settings, shard: list, threads: int, run_id: str, channel, stop) -> None:
    # Ctrl-C reaches every process of the terminal's group; the parent decides what stops (`stop`).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        from benchmark.harness import execute_episodes, make_runner_factory
        from sim.encounter import build

        factory = make_runner_factory(settings, retriever=build.retriever(settings))
        execute_episodes(
            shard,
            factory,
            run_id=run_id,
            concurrency=threads,
            stop=stop,
            emit=lambda record: channel.put(("record", record.model_dump_json())),
        )
    except BaseException as error:  # noqa: BLE001 - told to the parent, which raises it
        channel.put(("failed", f"{type(error).__name__}: {error}"))
    finally:
        channel.put(("done", None))
