"""What a citizen owes for a dossier, as both intake (the pay action, the citizen's view) and workflow
(`PaymentConfirmed.outstanding`) reckon it: one definition, so the two cannot drift apart."""

from __future__ import annotations


def amount_owed(fee: int, requested: int, paid: int) -> int:
    """The fee, or what the officials asked for if more (a payment request is the whole obligation,
    the fee included), less everything paid; negative when the citizen paid more than that."""
    return max(fee, requested) - paid
