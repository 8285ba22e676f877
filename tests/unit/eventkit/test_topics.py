"""Creating topics: a refusal by the broker is an error, not a topic created."""

from __future__ import annotations

import pytest
from aiokafka.errors import InvalidReplicationFactorError, TopicAlreadyExistsError

from eventkit.kafka import TopicsNotCreated, created_topics


def test_topics_created_or_created_by_another_process_first_are_fine() -> None:
    answer = [("intake.events", 0, None), ("intake.events.dlq", TopicAlreadyExistsError.errno, "exists")]
    assert created_topics(answer) == ["intake.events"]


def test_a_refused_topic_is_an_error_naming_it() -> None:
    """aiokafka returns the broker's answer without raising: 'only 0 broker(s) are registered' passed
    for a topic created, and with automatic creation off the relay then waited on it for ever."""
    errno = InvalidReplicationFactorError.errno
    answer = [("intake.events", 0, None), ("intake.events.dlq", errno, "only 0 broker(s) are registered")]
    with pytest.raises(TopicsNotCreated) as refused:
        created_topics(answer)
    assert list(refused.value.refused) == ["intake.events.dlq"]
    assert "INVALID_REPLICATION_FACTOR (38): only 0 broker(s) are registered" in str(refused.value)
    with pytest.raises(TopicsNotCreated, match=r"workflow.events: INVALID_TOPIC \(17\)$"):
        created_topics([("workflow.events", 17)])  # version 0 of the answer has no message
