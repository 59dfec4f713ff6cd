import pytest

from sim.core.errors import InputError
from sim.core.records import EpisodeRecord, append_record, read_records, repair_tail


def _record(i: int) -> EpisodeRecord:
    return EpisodeRecord(run_id="r", episode_id=f"c{i}:t0", case_id=f"c{i}", source="test", termination="diagnosed")


def test_append_and_read_round_trip(tmp_path):
    path = tmp_path / "episodes.jsonl"
    for i in range(3):
        append_record(path, _record(i))
    assert [r.case_id for r in read_records(path)] == ["c0", "c1", "c2"]


def test_partial_last_line_is_ignored_then_repaired(tmp_path):
    path = tmp_path / "episodes.jsonl"
    append_record(path, _record(0))
    with open(path, "ab") as handle:
        handle.write(_record(1).model_dump_json()[:40].encode())  # a crash mid-write
    assert [r.case_id for r in read_records(path)] == ["c0"]
    assert repair_tail(path) is True
    append_record(path, _record(2))
    assert [r.case_id for r in read_records(path)] == ["c0", "c2"]
    assert repair_tail(path) is False


def test_corrupt_complete_line_is_a_located_error(tmp_path):
    path = tmp_path / "episodes.jsonl"
    append_record(path, _record(0))
    with open(path, "a") as handle:
        handle.write('{"run_id": "r"}\n')
    with pytest.raises(InputError) as caught:
        read_records(path)
    assert str(caught.value.problems[0]).startswith(f"{path}:2: ")


def test_totals_count_a_test_that_returned_an_image_as_imaging():
    """'TEST: Chest X-ray' answered with the radiograph is imaging, as the work-up status already counts it."""
    from sim.core.records import compute_totals
    from sim.core.transcript import Turn

    turns = [
        Turn(index=0, role="doctor", text="TEST: Chest X-ray", action={"kind": "test", "name": "Chest X-ray"}),
        Turn(index=1, role="measurement", text="acquired", images=["a.png"]),
        Turn(index=2, role="doctor", text="TEST: CBC", action={"kind": "test", "name": "CBC"}),
        Turn(index=3, role="measurement", text="WBC 12"),
    ]
    totals = compute_totals(turns, 1.0)
    assert (totals.tests, totals.images, totals.doctor_turns) == (1, 1, 2)
