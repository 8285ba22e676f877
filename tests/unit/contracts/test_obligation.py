from contracts.obligation import amount_owed


def test_the_fee_is_owed_until_paid() -> None:
    assert amount_owed(fee=50_000, requested=0, paid=0) == 50_000
    assert amount_owed(fee=50_000, requested=0, paid=20_000) == 30_000


def test_a_larger_request_is_the_whole_obligation_the_fee_included() -> None:
    assert amount_owed(fee=50_000, requested=120_000, paid=50_000) == 70_000


def test_a_smaller_request_does_not_lower_the_fee() -> None:
    assert amount_owed(fee=50_000, requested=10_000, paid=10_000) == 40_000


def test_paying_more_than_owed_is_negative() -> None:
    assert amount_owed(fee=0, requested=30_000, paid=45_000) == -15_000
