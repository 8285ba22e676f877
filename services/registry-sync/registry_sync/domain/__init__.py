"""Registry-sync's pure core: call outcomes, the retry policy, the circuit breaker, registry
commands and the per-dossier portal synchronisation state. No I/O, no framework imports."""
