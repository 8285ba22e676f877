"""Load generator for the dossier platform: a realistic mix of citizens and officials, at a target
rate or flat out, for a bounded time and count, against a stack on 127.0.0.1 only.

``python -m loadgen --help`` (or ``make load``). The pure parts — the mix, the forms, the people,
percentiles, pacing, the HTTP response parser — are unit-tested in ``tests/unit/loadgen``.
"""
