"""`openem ingest-file` reports every rejected line, goes on past bad bytes, and exits 1 when any was rejected."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command

from openem.telemetry.models import Reading

from .test_poison import fix


def write(path, lines: list[bytes]) -> None:
    path.write_bytes(b"\n".join(lines) + b"\n")


@pytest.mark.django_db
def test_every_rejected_line_is_reported_and_the_exit_status_says_so(tmp_path, capsys):
    from openem.devices.models import Device

    Device.objects.create(ref="GPS-0001", kind="gps")
    good = [json.dumps(fix(n=n)).encode() for n in range(30)]
    lines = [*good[:10], b"\xff\xfe{broken", *good[10:20], json.dumps(fix(n=99, seq=2**64 - 1)).encode(), b"{oops",
             *good[20:]]  # fmt: skip
    source = tmp_path / "readings.jsonl"
    write(source, lines)
    report = tmp_path / "rejected.jsonl"
    with pytest.raises(SystemExit) as exit_:
        call_command("ingest_file", str(source), "--chunk", "7", "--rejected", str(report))
    assert exit_.value.code == 1
    assert Reading.objects.count() == 30
    rejected = [json.loads(line) for line in report.read_text().splitlines()]
    assert [(r["line"], r["field"]) for r in rejected] == [(11, "(line)"), (22, "seq"), (23, "(line)")]
    assert "not UTF-8" in rejected[0]["error"]
    assert "30 readings stored, 0 duplicates, 3 rejected" in capsys.readouterr().out

    # Without --rejected each goes to standard error; a clean file exits 0.
    with pytest.raises(SystemExit):
        call_command("ingest_file", str(source))
    err = capsys.readouterr().err
    assert "line 11: (line): is not UTF-8" in err and "line 22: seq:" in err and "line 23:" in err
    clean = tmp_path / "clean.jsonl"
    write(clean, good)
    call_command("ingest_file", str(clean))
    assert "0 readings stored, 30 duplicates, 0 rejected" in capsys.readouterr().out
