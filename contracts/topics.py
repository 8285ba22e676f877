"""Topic names. One writer per topic; every service reads these names from its settings,
whose defaults come from here."""

from __future__ import annotations

from typing import Final

from pydantic import BaseModel, ConfigDict, Field

DLQ_SUFFIX: Final = ".dlq"


def dead_letter_topic(topic: str) -> str:
    """The topic a consumer of ``topic`` sends events to that keep failing."""
    return f"{topic}{DLQ_SUFFIX}"


class Topics(BaseModel):
    """The four event topics and who writes them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    intake_events: str = Field("intake.events", description="Written by intake: submissions, citizen actions.")
    workflow_events: str = Field(
        "workflow.events", description="Written by workflow: dossier lifecycle, deadlines, sagas."
    )
    registry_commands: str = Field(
        "registry.commands", description="Written by workflow: work for external national registries."
    )
    registry_events: str = Field(
        "registry.events", description="Written by registry-sync: outcomes of registry and portal calls."
    )

    def all(self) -> list[str]:
        """Every event topic, without dead-letter topics."""
        return [self.intake_events, self.workflow_events, self.registry_commands, self.registry_events]

    def all_with_dead_letters(self) -> list[str]:
        """Every topic a deployment must create."""
        return [t for topic in self.all() for t in (topic, dead_letter_topic(topic))]


#: Partitions per topic: the unit of consumer parallelism. Events are keyed by dossier (or
#: bundle) id, so one dossier's events stay ordered on one partition.
DEFAULT_PARTITIONS: Final = 6
