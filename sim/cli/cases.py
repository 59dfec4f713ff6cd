"""`clinsim cases ...`: generate, validate, audit, show case files and print their JSON Schema.

Bad input is the user's to fix, so it is reported as located problems (`FILE:LINE: field: message`)
with exit code 1, never as a traceback. Problems go to stderr through plain `typer.echo`: rich would
wrap long lines and read `[...]` in messages as markup.
"""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from sim.cli.common import command_group
from sim.core.config import BANKS, DEFAULT_BANK
from sim.core.errors import InputError, Problem

app = command_group("Generate, validate, audit and describe case files.")


class CaseFormat(str, Enum):
    native = "native"
    agentclinic = "agentclinic"
    nejm = "nejm"


FormatOption = Annotated[
    CaseFormat | None,
    typer.Option("--format", "-f", help="Case file format; detected from the first JSON object line if omitted."),
]


def _console() -> Console:
    return Console(highlight=False)


def _print_problems(problems: list[Problem]) -> None:
    for problem in problems:
        typer.echo(str(problem), err=True)


def _fail(message: str) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(code=1)


@app.command()
def validate(
    files: Annotated[list[Path], typer.Argument(help="JSONL case files or bank folders (DIR/cases.jsonl).")],
    format: FormatOption = None,
) -> None:
    """Check case files; print every problem as FILE:LINE: field.path: what is wrong.

    Exit code 1 if any problem was found, 0 otherwise.
    """
    from sim.loaders.validate import validate_files

    try:
        report = validate_files(files, format.value if format else None)
    except InputError as exc:
        _print_problems(exc.problems)
        raise typer.Exit(code=1) from None
    except OSError as exc:
        raise _fail(f"{exc.filename or ''}: cannot read: {exc.strerror or exc}") from None
    _print_problems(report.problems)
    typer.echo(report.summary())
    raise typer.Exit(code=0 if report.ok else 1)


@app.command()
def audit(
    files: Annotated[list[Path], typer.Argument(help="JSONL case files or bank folders.")],
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the findings as JSON here.")] = None,
    format: FormatOption = None,
    include_reports: Annotated[
        bool,
        typer.Option(
            "--include-reports", help="Also audit image reports (shown only with encounter.show_image_report)."
        ),
    ] = False,
) -> None:
    """List cases whose diagnosis appears in text the patient or measurement agent can read.

    Findings are information, not errors: exit code 0. Unreadable input is reported as located problems
    (the readable cases are still audited); exit code 1 only if no case could be read at all.
    """
    from sim.loaders.audit import audit_cases, rule_totals

    cases, problems = _read_all(files, format)
    _print_problems(problems)
    if not cases and problems:
        raise typer.Exit(code=1)
    findings = audit_cases(cases, include_reports=include_reports)
    totals = rule_totals(findings)

    console = _console()
    if findings:
        table = Table(title=f"Answer-leak audit: {len(cases)} cases")
        for column in ("case id", "field", "rule", "matched text"):
            table.add_column(column, overflow="fold")
        for finding in findings:
            table.add_row(finding.case_id, finding.field, finding.rule, Text(finding.matched))
        console.print(table)
    n_leaking = len({f.case_id for f in findings})
    for rule, counts in totals.items():
        console.print(f"{rule}: {counts['fields']} field(s) in {counts['cases']} case(s)")
    console.print(f"{n_leaking} of {len(cases)} cases leak their diagnosis")

    if json_out:
        payload = {
            "files": [str(f) for f in files],
            "n_cases": len(cases),
            "n_leaking_cases": n_leaking,
            "totals": totals,
            "findings": [f.to_dict() for f in findings],
        }
        try:
            json_out.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        except OSError as exc:
            raise _fail(f"{json_out}: cannot write: {exc.strerror or exc}") from None


@app.command()
def schema(
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write the schema here instead of stdout.")] = None,
) -> None:
    """Print the JSON Schema of one line of the native case format."""
    from sim.core.case import case_json_schema

    text = json.dumps(case_json_schema(), indent=2, ensure_ascii=False) + "\n"
    if out is None:
        typer.echo(text, nl=False)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise _fail(f"{out}: cannot write: {exc.strerror or exc}") from None
    typer.echo(f"JSON Schema written to {out}")


@app.command()
def generate(
    n: Annotated[int, typer.Option("--n", min=1, help="Number of cases.")] = 200,
    seed: Annotated[int, typer.Option("--seed", help="Random seed; the same seed gives the same bank.")] = 0,
    out: Annotated[Path, typer.Option("--out", help="Output folder (cases.jsonl and images/).")] = Path("bank"),
    bank: Annotated[
        str,
        typer.Option(
            "--bank",
            help="lookalike (causes that share a picture: the story decides) "
            "or findings (one image sign per diagnosis: the picture decides)",
        ),
    ] = DEFAULT_BANK,
) -> None:
    """Generate a synthetic image-report case bank, then validate what was written.

    The default **lookalike** bank has 24 causes in 6 groups that share a picture (pleural effusion, lobar
    consolidation, enlarged heart, nodule or mass, pneumothorax, normal film): the film narrows the question,
    the history, examination and tests decide it. The **findings** bank has 11 diagnoses that are each one
    image sign (the retrieval benchmarks' bank)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    try:
        from sim.bank import generate_bank
    except ImportError as exc:
        raise _fail(f"the case bank generator is not available: {exc}") from None

    from sim.loaders import read_cases

    if bank not in BANKS:
        raise _fail(f"--bank must be one of {', '.join(BANKS)}, got {bank!r}")
    columns = (TextColumn("generating"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    try:
        with Progress(*columns, console=Console(stderr=True)) as progress:
            task = progress.add_task("generate", total=n)
            # generate_bank reports how many cases are done so far.
            written = generate_bank(
                n, seed, out, progress=lambda done: progress.update(task, completed=done), bank=bank
            )
    except InputError as exc:
        _print_problems(exc.problems)
        raise typer.Exit(code=1) from None
    except OSError as exc:
        raise _fail(f"{exc.filename or out}: {exc.strerror or exc}") from None

    result = read_cases(written)
    if result.problems:
        _print_problems(result.problems)
        raise _fail(f"the generated bank has {len(result.problems)} problem(s)")
    typer.echo(f"{len(result.cases)} cases written to {result.file}")


@app.command()
def show(
    file: Annotated[Path, typer.Argument(help="JSONL case file or bank folder.")],
    case_id: Annotated[str | None, typer.Option("--case-id", help="Case to show; the first if omitted.")] = None,
    format: FormatOption = None,
) -> None:
    """Print one case as readable panels: what each agent sees, and the answer."""
    cases, problems = _read_all([file], format)
    _print_problems(problems)
    chosen = next((c for c in cases if case_id is None or c.id == case_id), None)
    if chosen is None:
        raise _fail(f"{file}: no case with id {case_id!r}" if case_id else f"{file}: no readable case")
    console = _console()
    for title, body in _case_sections(chosen):
        if body:
            console.print(Panel(Text(body), title=title, title_align="left"))


def _read_all(files: list[Path], format: CaseFormat | None):
    from sim.loaders import read_cases

    cases, problems = [], []
    for path in files:
        result = read_cases(path, format.value if format else None)
        cases.extend(result.cases)
        problems.extend(result.problems)
    return cases, problems


def _case_sections(case) -> list[tuple[str, str]]:
    patient = case.patient
    patient_lines = [
        ("Demographics", patient.demographics),
        ("History", patient.history),
        ("Primary symptom", patient.symptoms.primary),
        ("Secondary symptoms", "; ".join(patient.symptoms.secondary)),
        ("Past medical history", patient.past_medical_history),
        ("Social history", patient.social_history),
        ("Review of systems", patient.review_of_systems),
        *patient.extra.items(),
    ]
    images = [
        f"{image.path or image.url}"
        + (f" [{image.modality}]" if image.modality else "")
        + ("" if image.available else f" (unavailable: {image.unavailable_reason})")
        + (f"\n  report: {image.report}" if image.report else "")
        for image in case.images
    ]
    options = [f"{'*' if o.correct else ' '} {o.text}" for o in case.options]
    aliases = f" (also: {', '.join(case.diagnosis.aliases)})" if case.diagnosis.aliases else ""
    return [
        (f"Case {case.id} ({case.source})", case.objective or "(no objective)"),
        ("Patient script", "\n".join(f"{k}: {v}" for k, v in patient_lines if v)),
        ("Examination", "\n".join(_flatten(case.exam))),
        ("Tests", "\n".join(_flatten(case.tests))),
        ("Images", "\n".join(images)),
        ("Options", "\n".join(options)),
        ("Diagnosis", case.diagnosis.name + aliases),
    ]


def _flatten(value: Any, prefix: str = "") -> list[str]:
    if isinstance(value, dict):
        lines = []
        for key, child in value.items():
            lines.extend(_flatten(child, f"{prefix} > {key}" if prefix else str(key)))
        return lines
    if isinstance(value, list):
        return [line for i, child in enumerate(value) for line in _flatten(child, f"{prefix} > {i + 1}")]
    return [f"{prefix}: {value}"]
