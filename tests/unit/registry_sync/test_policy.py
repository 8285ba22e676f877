"""The reliability building blocks: backoff, giving up, the breaker's states, error classes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry_sync.adapters.http_client import retry_after_seconds
from registry_sync.domain.breaker import BreakerState, CircuitBreaker
from registry_sync.domain.outcomes import Rejected, Succeeded, Transient, classify_status, mask_personal_numbers
from registry_sync.domain.retry import RetryPolicy


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@given(attempt=st.integers(1, 40), r=st.floats(0, 1), retry_after=st.none() | st.floats(0, 100))
def test_backoff_grows_to_its_cap_with_jitter_and_honours_retry_after(
    attempt: int, r: float, retry_after: float | None
) -> None:
    policy = RetryPolicy(base_seconds=0.5, max_delay_seconds=30)
    step = min(30.0, 0.5 * 2 ** (attempt - 1))
    delay = policy.delay(attempt, retry_after, rand=lambda: r)
    assert step / 2 <= delay or (retry_after is not None and delay == retry_after)
    assert delay <= max(step, retry_after or 0)
    assert delay >= (retry_after or 0)


def test_backoff_doubles_and_jitter_spreads_callers() -> None:
    policy = RetryPolicy(base_seconds=1, max_delay_seconds=100)
    assert [policy.delay(n, rand=lambda: 1.0) for n in (1, 2, 3, 4)] == [1, 2, 4, 8]
    assert policy.delay(3, rand=lambda: 0.0) == 2  # half the step is certain, the rest random


def test_late_attempts_of_a_long_retry_wait_the_cap_not_overflow() -> None:
    policy = RetryPolicy(max_attempts=5000, give_up_after_seconds=30 * 86400)
    assert policy.delay(1026, rand=lambda: 1.0) == policy.delay(5000, rand=lambda: 1.0) == 300.0


def test_gives_up_on_attempts_or_age() -> None:
    policy = RetryPolicy(max_attempts=3, give_up_after_seconds=60)
    assert not policy.exhausted(2, 59)
    assert policy.exhausted(3, 0)
    assert policy.exhausted(1, 60)


def test_by_default_a_command_outlasts_a_registry_down_for_the_whole_give_up_time() -> None:
    """The retries end by age, not by count: at the fastest jitter the attempts last longer than
    retry_give_up_after_seconds. (At 15 attempts and a 60 s cap a command gave up after 4 minutes of
    outage, and its bundle ended partly done.)"""
    from registry_sync.settings import RegistrySyncSettings

    defaults = RegistrySyncSettings.model_fields
    policy = RetryPolicy(
        base_seconds=defaults["retry_base_seconds"].default,
        max_delay_seconds=defaults["retry_max_delay_seconds"].default,
        max_attempts=defaults["retry_max_attempts"].default,
        give_up_after_seconds=defaults["retry_give_up_after_seconds"].default,
    )
    assert policy == RetryPolicy()  # the settings and the policy's own defaults agree
    attempts, waited = 1, 0.0
    while not policy.exhausted(attempts, waited):
        waited += policy.delay(attempts, rand=lambda: 0.0)
        attempts += 1
    assert waited >= policy.give_up_after_seconds and attempts < policy.max_attempts
    assert policy.delay(attempts, rand=lambda: 1.0) <= 300  # after an outage, back within five minutes


def test_breaker_opens_after_threshold_then_probes_once_and_closes() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker("s", failure_threshold=3, cooldown_seconds=10, clock=clock)
    for _ in range(2):
        assert breaker.acquire()
        breaker.record_failure()
    assert breaker.state is BreakerState.CLOSED
    assert breaker.acquire()
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    assert not breaker.acquire() and breaker.stats.rejected == 1
    assert breaker.seconds_until_probe() == 10

    clock.now += 10
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.acquire()  # the probe
    assert not breaker.acquire()  # only one at a time
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED and breaker.consecutive_failures == 0
    assert (breaker.stats.opened, breaker.stats.closed_again) == (1, 1)


def test_failed_probe_opens_again_for_a_full_cooldown() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker("s", failure_threshold=1, cooldown_seconds=5, clock=clock)
    assert breaker.acquire()
    breaker.record_failure()
    clock.now += 5
    assert breaker.acquire()
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    assert breaker.seconds_until_probe() == 5


def test_released_probe_lets_another_probe_through() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker("s", failure_threshold=1, cooldown_seconds=0, clock=clock)
    breaker.acquire()
    breaker.record_failure()
    assert breaker.acquire()
    breaker.release()
    assert breaker.acquire()


def test_successes_reset_the_failure_count() -> None:
    breaker = CircuitBreaker("s", failure_threshold=2, cooldown_seconds=1, clock=FakeClock())
    for _ in range(5):
        breaker.record_failure()
        breaker.record_success()
    assert breaker.state is BreakerState.CLOSED


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (200, Succeeded),
        (201, Succeeded),
        (400, Rejected),
        (404, Rejected),
        (409, Rejected),
        (412, Rejected),
        (422, Rejected),
        (408, Transient),  # a request timeout says nothing against the request: it may be sent again
        # Refusals of registry-sync's own credentials, not of the request: an outage to mend.
        (401, Transient),
        (403, Transient),
        (407, Transient),
        (429, Transient),
        (500, Transient),
        (502, Transient),
        (503, Transient),
        (504, Transient),
        # We follow no redirect: one means the base URL is ours to mend. Rejected, it failed every
        # queued command for good, one call each, and counted as proof the system was up.
        (301, Transient),
        (307, Transient),
        (308, Transient),
    ],
)
def test_retry_only_on_408_429_5xx_redirects_and_refused_credentials(status: int, kind: type) -> None:
    assert classify_status(status) is kind


def test_429_does_not_count_against_the_breaker() -> None:
    assert not Transient("slow down", 429).counts_against_breaker
    assert Transient("down", 503).counts_against_breaker
    assert Transient("timeout").counts_against_breaker


def test_retry_after_in_seconds_or_as_a_date() -> None:
    assert retry_after_seconds("7") == 7
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("²") is None  # a digit to str.isdigit(), not to float(): it raised


def test_a_retry_after_longer_than_an_hour_is_cut_to_an_hour() -> None:
    """A year put the next attempt far past the give-up; 10**14 seconds raised OverflowError while
    the attempt was recorded, so the command was called again every lease, its attempts never counted."""
    policy = RetryPolicy()
    now = datetime(2024, 7, 10, tzinfo=UTC)
    for asked in (365 * 86400.0, 1e14, 1e20):
        delay = policy.delay(1, asked, rand=lambda: 1.0)
        assert delay == policy.max_retry_after_seconds == 3600
        assert now + timedelta(seconds=delay) > now
    assert policy.delay(1, 1800.0, rand=lambda: 0.0) == 1800  # below the cap, still a floor


def test_identification_numbers_are_masked_in_reasons() -> None:
    assert mask_personal_numbers("no citizen 079301140891 here") == "no citizen 07********91 here"
    assert mask_personal_numbers("card TE1790123456789") == "card TE1790123456789"  # 13 digits: not a number


def test_settings_per_system_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from registry_sync.settings import RegistrySyncSettings

    monkeypatch.setenv("REGISTRY_SIM_PORT", "18009")
    monkeypatch.setenv("REGISTRY_SYNC_NATIONAL_PORTAL__READ_TIMEOUT_SECONDS", "3")
    monkeypatch.setenv("REGISTRY_SYNC_SOCIAL_WELFARE__BASE_URL", "https://welfare.example/api/")
    monkeypatch.setenv("REGISTRY_SYNC_SOCIAL_WELFARE__API_KEY", "not-in-logs")
    settings = RegistrySyncSettings()
    assert settings.base_url("national_portal") == "http://127.0.0.1:18009/portal/v1"  # path kept
    assert settings.national_portal.read_timeout_seconds == 3
    assert settings.base_url("social_welfare") == "https://welfare.example/api"
    assert "not-in-logs" not in repr(settings)
    production = {
        "environment": "production", "database_url": "postgresql+asyncpg://u@db/x", "kafka_bootstrap_servers": "k:9092",
        "auth_jwks": "https://sso.example.invalid/certs", "auth_issuer": "https://sso.example.invalid",
    }  # fmt: skip
    with pytest.raises(ValueError, match="province_code: must be set in production"):  # Nam Định's by default
        RegistrySyncSettings(**production)
    with pytest.raises(ValueError, match="real base URLs"):
        RegistrySyncSettings(**production, province_code="036")


def test_idempotency_keys_are_made_header_safe_and_stable() -> None:
    from registry_sync.adapters.http_client import header_safe_key

    assert header_safe_key("cmd-0190a1b2:register") == "cmd-0190a1b2:register"
    odd = header_safe_key("lệnh số 1")
    assert odd.startswith("sha256-") and odd == header_safe_key("lệnh số 1") and len(odd) < 255


def test_which_systems_a_stack_calls_on_the_registry_simulator() -> None:
    """Compose points every system at the simulator by default: in production that is said at start-up."""
    from registry_sync.settings import RegistrySyncSettings

    compose = RegistrySyncSettings(registries_url="http://registry-simulator:8009")
    assert sorted(compose.simulated_systems()) == sorted(compose.systems())
    real = RegistrySyncSettings(
        registries_url="https://registries.province.example",
        social_welfare={"base_url": "http://127.0.0.1:8009/welfare/v1"},  # type: ignore[arg-type]
    )
    assert real.simulated_systems() == ["social_welfare"]
