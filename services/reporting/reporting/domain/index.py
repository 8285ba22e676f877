"""The citizen-service index of Decision 766/QĐ-TTg: six groups, 100 points (DOMAIN.md).

Weights, thresholds and rating bands are configuration (``config/index_766.json`` by default): the
decision's split inside a group and the bands are not confirmed. Scoring: a sub-indicator scores its
full weight at or above its threshold; below it, ``rate × weight ÷ threshold`` (linear).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

Source = Literal["events", "catalogue", "configuration"]

#: The groups' points, which the decision fixes (only the split inside a group is configuration).
GROUP_POINTS: dict[str, float] = {
    "publicity": 18, "progress": 20, "online_service": 12, "online_payment": 10, "satisfaction": 18,
    "digitisation": 22,
}  # fmt: skip

#: The sub-indicators this service knows how to measure, by group.
KNOWN_INDICATORS: dict[str, frozenset[str]] = {
    "publicity": frozenset({"procedures_published", "portal_sync"}),
    "progress": frozenset({"on_time"}),
    "online_service": frozenset({"procedures_online", "online_submission"}),
    "online_payment": frozenset({"procedures_fee_online", "procedures_with_online_payment", "dossiers_paid_online"}),
    "satisfaction": frozenset({"satisfaction"}),
    "digitisation": frozenset(
        {"electronic_results", "digitised_with_e_result", "data_reuse", "national_document_store", "population_data"}
    ),
}


class _Config(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class IndicatorConfig(_Config):
    key: str = Field(description="Sub-indicator key (see KNOWN_INDICATORS).")
    label: str = Field(description="What it measures, in English.")
    weight: float = Field(ge=0, description="Points at or above the threshold.")
    threshold: float = Field(gt=0, le=1, description="Rate that earns the full weight.")


class GroupConfig(_Config):
    key: str = Field(description="Group key.")
    label: str = Field(description="Group name, in English.")
    label_vi: str = Field(description="Group name, in Vietnamese.")
    points: float = Field(gt=0, description="The group's points out of 100.")
    indicators: list[IndicatorConfig] = Field(min_length=1, description="Its sub-indicators.")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        known = KNOWN_INDICATORS.get(self.key)
        if known is None:
            raise ValueError(f"unknown group {self.key!r}; known: {sorted(KNOWN_INDICATORS)}")
        unknown = [i.key for i in self.indicators if i.key not in known]
        if unknown:
            raise ValueError(f"group {self.key}: unknown sub-indicators {unknown}; known: {sorted(known)}")
        if abs(sum(i.weight for i in self.indicators) - self.points) > 1e-6:
            raise ValueError(f"group {self.key}: sub-indicator weights do not add up to {self.points}")
        return self


class Band(_Config):
    name: str = Field(description="Rating, e.g. 'good'.")
    min_points: float = Field(ge=0, le=100, description="Lowest total that earns it.")


class IndexConfig(_Config):
    """The whole index configuration."""

    groups: list[GroupConfig] = Field(description="The six groups.")
    bands: list[Band] = Field(description="Rating bands (unconfirmed: configuration).")
    below_bands: str = Field("weak", description="Rating below every band.")
    satisfied_min_score: int = Field(4, ge=1, le=5, description="A rating at least this is 'satisfied'.")
    dislike_max_score: int = Field(2, ge=0, le=5, description="A rating at most this counts as a dislike.")
    configured_rates: dict[str, float] = Field(
        default_factory=dict,
        description="Rates no event carries (e.g. procedures_published), or overrides of catalogue-derived "
        "rates, by sub-indicator key; each between 0 and 1.",
    )
    not_applicable: Literal["full", "zero"] = Field(
        "full", description="Points of a sub-indicator with nothing to measure (no dossier in its denominator)."
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        given = [(g.key, g.points) for g in self.groups]
        if sorted(given) != sorted(GROUP_POINTS.items()):
            raise ValueError(f"the groups must be Decision 766's six, each once, with its points: {GROUP_POINTS}")
        listed = [i.key for g in self.groups for i in g.indicators]
        twice = sorted(k for k in set(listed) if listed.count(k) > 1)
        if twice:
            raise ValueError(f"a sub-indicator is listed twice: {twice}")
        if self.dislike_max_score >= self.satisfied_min_score:
            raise ValueError("dislike_max_score must be below satisfied_min_score (a rating cannot be both)")
        keys = set(listed)
        bad = {k: v for k, v in self.configured_rates.items() if k not in keys or not 0 <= v <= 1}
        if bad:
            raise ValueError(f"configured_rates: unknown keys or rates outside [0, 1]: {bad}")
        return self

    def band(self, total: float) -> str:
        for band in sorted(self.bands, key=lambda b: b.min_points, reverse=True):
            if total >= band.min_points:
                return band.name
        return self.below_bands


@dataclass(frozen=True)
class Measure:
    """A rate as numerator ÷ denominator, and where the numbers come from."""

    numerator: float
    denominator: float
    source: Source

    @property
    def rate(self) -> float | None:
        return None if self.denominator <= 0 else self.numerator / self.denominator

    @classmethod
    def configured(cls, rate: float) -> Measure:
        return cls(rate, 1.0, "configuration")


@dataclass(frozen=True)
class IndicatorScore:
    key: str
    label: str
    measure: Measure
    weight: float
    threshold: float
    points: float

    @property
    def unit_cost(self) -> float:
        """Points one more failing unit (dossier or document) of the denominator costs, below the threshold."""
        rate = self.measure.rate
        if rate is None or rate >= self.threshold or self.measure.source == "configuration":
            return 0.0
        return self.weight / (self.threshold * self.measure.denominator)


@dataclass(frozen=True)
class GroupScore:
    key: str
    label: str
    label_vi: str
    max_points: float
    indicators: list[IndicatorScore]

    @property
    def points(self) -> float:
        return sum(i.points for i in self.indicators)


def indicator_points(measure: Measure, weight: float, threshold: float, not_applicable: str) -> float:
    """Full weight at or above the threshold, linear below it."""
    rate = measure.rate
    if rate is None:
        return weight if not_applicable == "full" else 0.0
    return weight * min(1.0, rate / threshold)


def score_index(config: IndexConfig, measures: dict[str, Measure]) -> list[GroupScore]:
    """Score every configured sub-indicator; a configured rate wins over a measured one."""
    groups = []
    for group in config.groups:
        scores = []
        for ind in group.indicators:
            measure = measures[ind.key]
            if ind.key in config.configured_rates:
                measure = Measure.configured(config.configured_rates[ind.key])
            points = indicator_points(measure, ind.weight, ind.threshold, config.not_applicable)
            scores.append(IndicatorScore(ind.key, ind.label, measure, ind.weight, ind.threshold, points))
        groups.append(GroupScore(group.key, group.label, group.label_vi, group.points, scores))
    return groups
