"""The matcher's parameters come from the OPENEM_CRIME_* settings, with the version recorded."""

from __future__ import annotations

from openem.crime.records import MatchParams
from openem.crime.settings import from_settings


def test_the_defaults_are_the_settings_defaults():
    assert from_settings() == MatchParams.default()


def test_a_changed_setting_is_used(settings):
    settings.OPENEM_CRIME_DISTANCE_M = 150
    settings.OPENEM_CRIME_PARAMS_VERSION = "force-x/2"
    p = from_settings()
    assert (p.distance_m, p.version, p.buffer_min) == (150.0, "force-x/2", 30.0)
    assert p.to_json()["distance_m"] == 150.0


def test_the_code_version_names_the_matchers_source():
    from openem.crime.matching import code_version

    v = code_version()
    assert v.startswith("openem ") and " crime " in v and len(v.rsplit(" ", 1)[1]) == 12
    assert code_version() == v
