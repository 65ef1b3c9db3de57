"""The crime suite's shared fixture: a batch matched against Sam's trail."""

from __future__ import annotations

import pytest

from openem.crime.models import CrimeBatch, Finding, Verdict
from openem.crime.worker import CrimeWorker
from tests.helpers import client_for

from .portal_helpers import csv_of, far_crime, near_crime, store_trail, upload


@pytest.fixture
def matched(personas, case):
    """Sam's trail stored; a batch with a crime on his path and one far from it, matched."""
    store_trail()
    assert upload(client_for(personas["police"]), csv_of([near_crime(), far_crime()])).status_code == 302
    CrimeWorker("test").run_once()
    return CrimeBatch.objects.get()


def the_match() -> Finding:
    return Finding.objects.get(verdict=Verdict.MATCH)
