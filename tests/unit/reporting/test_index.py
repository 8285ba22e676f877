"""The 766 index: scoring rules, configuration checks, and the scenario's points by hand."""

from __future__ import annotations

import json
from importlib import resources

import pytest
from pydantic import ValidationError

from contracts.catalogue import load_catalogue
from reporting.adapters.catalogue_info import CatalogueInfo
from reporting.domain.index import IndexConfig, Measure, indicator_points, score_index
from reporting.service_layer.reports import index_body, measures_from
from tests.unit.reporting.scenario import EXPECTED, EXPECTED_POINTS


def packaged() -> IndexConfig:
    return IndexConfig.model_validate_json(resources.files("reporting").joinpath("config/index_766.json").read_bytes())


def raw_config() -> dict:  # type: ignore[type-arg]
    return json.loads(resources.files("reporting").joinpath("config/index_766.json").read_text())


def test_full_points_at_the_threshold_and_linear_below() -> None:
    assert indicator_points(Measure(50, 100, "events"), 12, 0.5, "full") == 12
    assert indicator_points(Measure(90, 100, "events"), 12, 0.5, "full") == 12
    assert indicator_points(Measure(25, 100, "events"), 12, 0.5, "full") == pytest.approx(6)
    assert indicator_points(Measure(0, 100, "events"), 12, 0.5, "full") == 0


def test_nothing_to_measure_scores_as_configured() -> None:
    assert indicator_points(Measure(0, 0, "events"), 6, 1.0, "full") == 6
    assert indicator_points(Measure(0, 0, "events"), 6, 1.0, "zero") == 0


def test_the_packaged_configuration_has_six_groups_worth_100_points() -> None:
    config = packaged()
    assert {g.key: g.points for g in config.groups} == {
        "publicity": 18, "progress": 20, "online_service": 12, "online_payment": 10, "satisfaction": 18,
        "digitisation": 22,
    }  # fmt: skip
    assert [config.band(t) for t in (95, 80, 79.99, 65, 50, 49.9)] == [
        "good",
        "good",
        "fair",
        "fair",
        "average",
        "weak",
    ]


def move_progress_to_publicity(config: dict) -> None:  # type: ignore[type-arg]
    progress = next(g for g in config["groups"] if g["key"] == "progress")
    config["groups"].remove(progress)
    publicity = config["groups"][0]
    publicity["points"] += progress["points"]
    publicity["indicators"][1]["weight"] += progress["points"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: c["groups"][0]["indicators"][0].update(weight=7), "do not add up"),
        (lambda c: c["groups"][1]["indicators"][0].update(key="speed"), "unknown sub-indicators"),
        (lambda c: c["groups"][2].update(points=13), "do not add up"),
        (lambda c: c.update(configured_rates={"procedures_published": 1.5}), "configured_rates"),
        (lambda c: c["groups"][3]["indicators"][0].update(threshold=0), "greater than 0"),
        # The decision fixes the six groups and their points: progress's 20 moved to publicity added up to 100.
        (lambda c: move_progress_to_publicity(c), "Decision 766's six"),
        (lambda c: c["groups"][5]["indicators"].append(dict(c["groups"][5]["indicators"][0], weight=0)), "twice"),
        (lambda c: c.update(satisfied_min_score=2, dislike_max_score=4), "cannot be both"),
    ],
)
def test_inconsistent_configuration_is_refused(change, message: str) -> None:  # type: ignore[no-untyped-def]
    config = raw_config()
    change(config)
    with pytest.raises(ValidationError, match=message):
        IndexConfig.model_validate(config)


def scenario_counts() -> dict[str, float]:
    """The summary counts the read model returns for the scenario (hand-computed in scenario.EXPECTED)."""
    e = EXPECTED
    return {
        "received": e["received"], "online": e["by_channel"]["online"], "resolved": e["resolved"],
        "early": e["early"], "on_time": e["on_time"], "overdue": e["overdue"], "synced": e["synced"],
        "fee_procedures_paid_online": 3, "fee_procedures_used": 6, "paid_online": e["paid_online"],
        "with_obligation": e["with_obligation"], "complaints": e["complaints"], "processed": 5,
        "e_results": e["electronic_results"], "digitised_e_results": 4, "documents": e["documents"],
        "documents_reused": e["documents_reused"], "documents_national_store": e["documents_national_store"],
        "population_data": e["population_data_used"],
    }  # fmt: skip


def test_the_scenario_scores_the_hand_computed_points() -> None:
    catalogue = CatalogueInfo.from_catalogue(load_catalogue())
    assert (catalogue.procedures_online().numerator, catalogue.procedures_online().denominator) == (13, 15)
    assert (catalogue.procedures_fee_online().numerator, catalogue.procedures_fee_online().denominator) == (7, 8)
    groups = score_index(packaged(), measures_from(scenario_counts(), catalogue))
    assert {g.key: pytest.approx(g.points) for g in groups} == EXPECTED_POINTS
    assert sum(g.points for g in groups) == pytest.approx(70.201196, abs=1e-6)
    published = groups[0].indicators[0]
    assert (published.key, published.measure.source, published.points) == ("procedures_published", "configuration", 8)


def test_a_configured_rate_replaces_the_catalogue_one() -> None:
    config = packaged().model_copy(update={"configured_rates": {"procedures_online": 0.4}})
    catalogue = CatalogueInfo.from_catalogue(load_catalogue())
    groups = score_index(config, measures_from(scenario_counts(), catalogue))
    online = groups[2].indicators[0]
    assert (online.measure.source, online.points) == ("configuration", pytest.approx(6 * 0.4 / 0.8))


def test_each_failing_dossier_costs_weight_over_threshold_times_denominator() -> None:
    catalogue = CatalogueInfo.from_catalogue(load_catalogue())
    groups = score_index(packaged(), measures_from(scenario_counts(), catalogue))
    cost = {i.key: i.unit_cost for g in groups for i in g.indicators}
    assert cost["on_time"] == pytest.approx(20 / 8)
    assert cost["satisfaction"] == pytest.approx(18 / (0.9 * 8))
    assert cost["data_reuse"] == pytest.approx(6 / (0.8 * 19))
    assert cost["online_submission"] == 0  # 7/11 is above the 50% threshold: one more counter dossier costs nothing
    assert cost["procedures_published"] == 0  # configuration, not dossiers


#: A split of the procedures by online level, for the tests about something else.
LEVELS = {"full": 1, "partial": 0, "none": 0}


def test_a_period_or_agency_with_no_dossier_has_no_score_rather_than_full_marks() -> None:
    """Every rate undefined, the sub-indicators with nothing to measure scored full marks: a past
    period or an agency where nothing happened read 100, "good"."""
    catalogue = CatalogueInfo.from_catalogue(load_catalogue())
    config = packaged()
    empty = {key: 0 for key in scenario_counts()} | {"avg_resolution_days": None}
    body = index_body(config, score_index(config, measures_from(empty, catalogue)), empty, catalogue, LEVELS)
    assert (body["total"], body["rating"]) == (None, "no_data")
    assert {g["points"] for g in body["groups"]} == {None}
    assert {i["points"] for g in body["groups"] for i in g["indicators"]} == {None}

    one = empty | {"received": 1, "online": 1}  # one dossier received, none ended yet: scored
    body = index_body(config, score_index(config, measures_from(one, catalogue)), one, catalogue, LEVELS)
    assert body["total"] is not None and body["rating"] != "no_data"


def test_the_index_splits_the_procedures_full_process_partly_and_not_online() -> None:
    """The provinces publish three shares (50.77% full-process, 16.82% partly, 32.41% not online);
    reporting gave only the first two added together."""
    catalogue = CatalogueInfo.from_catalogue(load_catalogue())
    levels = catalogue.online_level_counts()
    by_level = {lvl: [p for p in load_catalogue().procedures.values() if p.online_level == lvl] for lvl in levels}
    assert levels == {lvl: len(procedures) for lvl, procedures in by_level.items()}
    online = catalogue.procedures_online()
    assert levels["full"] + levels["partial"] == online.numerator and sum(levels.values()) == online.denominator
    assert min(levels.values()) > 0  # the packaged catalogue has each level: the split is tested, not zeros

    config = packaged()
    counts = {key: 0 for key in scenario_counts()} | {"avg_resolution_days": None, "received": 1}
    body = index_body(config, score_index(config, measures_from(counts, catalogue)), counts, catalogue, levels)
    split = body["procedures_by_online_level"]
    assert split["total"] == sum(levels.values())
    assert {lvl: split[lvl]["procedures"] for lvl in levels} == levels
    assert sum(split[lvl]["share"] for lvl in levels) == pytest.approx(1, abs=1e-3)
