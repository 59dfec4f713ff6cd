"""Option groups shared by the commands that run encounters (`run`, `bench run`, `bench ablate`,
`bench learn`, `app`): declared once here as dataclasses, expanded into each command's options by
`@with_groups`, and handed to the command as one object. The command's parameters are keyword-only, so
a group needs no default of its own (its options have theirs):

    @with_groups
    def bench_run(*, out: Path = typer.Option(...), models: ModelFlags, cases: CaseFlags): ...
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from sim.cli.model_flags import DoctorModel, DoctorVision, JudgeModel, PatientModel, role_overrides

ImageDir = typer.Option(
    None,
    "--image-dir",
    help="a folder of the cases' image files (NEJM), each named after its "
    "case id or its image URL's file name (IC20240111.jpg): the images without the network; a case "
    "whose file is missing is an error",
)
SkipMissingImages = typer.Option(
    False,
    "--skip-missing-images",
    help="with --image-dir: skip a case whose image file "
    "is missing (each is printed with its reason) instead of stopping",
)

if typing.TYPE_CHECKING:
    from sim.core.case import Case

DEFAULT_BANK_SIZE = 200


@dataclasses.dataclass
class ModelFlags:
    """Which model plays each role, and the encounter's length."""

    doctor_model: str = DoctorModel
    patient_model: str = PatientModel
    judge_model: str = JudgeModel
    turn_cap: int = typer.Option(None, "--turn-cap", help="maximum doctor turns (default from config)")
    doctor_vision: bool = DoctorVision

    def overrides(self) -> dict[str, Any]:
        overrides = role_overrides(
            doctor_model=self.doctor_model, patient_model=self.patient_model, judge_model=self.judge_model
        )
        if self.turn_cap is not None:
            overrides["encounter.turn_cap"] = self.turn_cap
        if self.doctor_vision is not None:
            overrides["roles.doctor.vision"] = self.doctor_vision
        return overrides


@dataclasses.dataclass
class DoctorFlags:
    """What the doctor works with."""

    strategy: str = typer.Option(
        None,
        "--strategy",
        help="doctor strategy: direct, cot, self-consistency, conference (default from config: direct)",
    )
    no_retrieval: bool = typer.Option(
        False,
        "--no-retrieval",
        help="turn the doctor's retrieval step off (no similar "
        "archived cases; past encounters, when on, are then its only memory)",
    )

    def overrides(self) -> dict[str, Any]:
        overrides: dict[str, Any] = {"strategy.name": self.strategy} if self.strategy else {}
        if self.no_retrieval:
            overrides["retrieval.enabled"] = False
        return overrides


@dataclasses.dataclass
class CaseFlags:
    """Which cases."""

    cases: str = typer.Option(
        "bank", "--cases", help="case file, bank folder, or 'bank' (the data dir's bank, generated if missing)"
    )
    limit: int = typer.Option(None, "--limit", help="use only the first N cases")
    bank_size: int = typer.Option(DEFAULT_BANK_SIZE, "--bank-size", help="cases to generate when the bank is missing")
    image_dir: Path = ImageDir
    skip_missing_images: bool = SkipMissingImages

    def image_options(self) -> dict[str, Any]:
        """The loader's options for the cases' image files (NEJM; other formats ignore them)."""
        if self.image_dir is None:
            return {}
        return {"image_dir": self.image_dir, "missing_images": "skip" if self.skip_missing_images else "error"}


@dataclasses.dataclass
class TrialFlags:
    """How many times, with which seeds, how many at once."""

    trials: int = typer.Option(1, "--trials", min=1, help="episodes per case")
    concurrency: int = typer.Option(
        1,
        "--concurrency",
        "-j",
        min=1,
        help="episodes run at once (embedded model: each with server slots of its own, decoded in one batch)",
    )
    seed: int = typer.Option(0, "--seed", help="run seed; each episode's seed derives from it, the case and the trial")
    processes: int = typer.Option(
        1,
        "--processes",
        min=1,
        help="worker processes sharing the --concurrency "
        "episodes (remote models only: one interpreter keeps a few hundred model calls "
        "per second going)",
    )

    def overrides(self) -> dict[str, Any]:
        # Each concurrent episode with embedded server slots of its own.
        return {"embedded.lanes": self.concurrency} if self.concurrency > 1 else {}

    def params(self) -> dict[str, Any]:
        return {"trials": self.trials, "seed": self.seed, "concurrency": self.concurrency, "processes": self.processes}


GROUPS = (ModelFlags, CaseFlags, TrialFlags, DoctorFlags)


def with_groups(command: Callable[..., None]) -> Callable[..., None]:
    """Replace each parameter annotated with an option group by the group's options (same names, defaults
    and help everywhere), and call the command with the group built from them."""
    hints = typing.get_type_hints(command)
    signature = inspect.signature(command)
    parameters: list[inspect.Parameter] = []
    groups: dict[str, tuple[type, list[str]]] = {}
    for parameter in signature.parameters.values():
        group = hints.get(parameter.name)
        if group in GROUPS and dataclasses.is_dataclass(group) and isinstance(group, type):
            fields = dataclasses.fields(group)
            field_types = typing.get_type_hints(group)
            groups[parameter.name] = (group, [f.name for f in fields])
            parameters += [
                inspect.Parameter(
                    f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default, annotation=field_types[f.name]
                )
                for f in fields
            ]
        else:
            parameters.append(
                parameter.replace(
                    kind=inspect.Parameter.KEYWORD_ONLY, annotation=hints.get(parameter.name, parameter.annotation)
                )
            )

    # A command called from Python (`demo` calls `run`) gets the declared default of each option it leaves
    # out, so an option added later never breaks such a call.
    declared = {p.name: _declared(p.default) for p in parameters if p.default is not inspect.Parameter.empty}
    defaults = {name: value for name, value in declared.items() if value is not ...}  # required ones stay required

    @functools.wraps(command)
    def wrapper(**values: Any) -> None:
        values = {**defaults, **values}
        for name, (group, names) in groups.items():
            values[name] = group(**{n: values.pop(n) for n in names})
        return command(**values)

    # typer reads the command's options from its signature: the groups' fields in place of the groups.
    wrapper.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]  # why: functions take a __signature__ (inspect.signature reads it); typeshed does not declare it
    wrapper.__annotations__ = {p.name: p.annotation for p in parameters}
    return wrapper


def _declared(default: Any) -> Any:
    """An option's default value: typer declares options as `typer.Option(DEFAULT, ...)`."""
    return default.default if isinstance(default, typer.models.ParameterInfo) else default


def resolve_cases(
    flags: CaseFlags, data_dir: Path, apply_limit: bool = True
) -> tuple[Path, list[Case], Path, list[str]]:
    """The cases of `--cases` (the data directory's bank is generated when missing), cut to `--limit` unless
    the caller orders them first: (source path, cases, folder image paths are relative to, the cases
    skipped on request, each with where and why). Exits with the
    located problems when the file is bad."""
    from sim.cli.common import console, fail_problems
    from sim.core.errors import InputError

    if flags.cases in (None, "bank"):
        from sim.bank.generate import BankMismatch, ensure_bank
        from sim.cli.common import fail

        path = data_dir / "bank"
        try:
            with console.status(f"generating a {flags.bank_size}-case bank in {path} (once) ..."):
                ensure_bank(path, flags.bank_size, 0)
        except BankMismatch as error:
            fail(str(error))
    else:
        path = Path(flags.cases)
    skipped: list[str] = []
    try:
        loaded = load_with_skips(path, skipped_out=skipped, **flags.image_options())
    except InputError as error:
        fail_problems(error)
    if apply_limit and flags.limit:
        loaded = loaded[: flags.limit]
    return path, loaded, (path if path.is_dir() else path.parent), skipped


def load_with_skips(path: Path, *, skipped_out: list[str] | None = None, **options: Any) -> list[Case]:
    """The cases of a file or folder (InputError for any problem); each case skipped on request (an image file
    missing with --skip-missing-images) is printed with where it is and why, and added to `skipped_out`."""
    from sim.cli.common import console
    from sim.core.errors import InputError
    from sim.loaders import read_cases

    result = read_cases(path, **options)
    if result.problems:
        raise InputError(result.problems)
    for skipped in result.skipped:
        console.print(f"[yellow]skipped:[/] {skipped}", highlight=False, soft_wrap=True)
        if skipped_out is not None:
            skipped_out.append(str(skipped))
    if result.skipped:
        console.print(f"[yellow]{len(result.skipped)} case(s) skipped, {len(result.cases)} loaded[/]", highlight=False)
    return result.cases
