"""The local stack without Docker: an embedded PostgreSQL, the Tansu broker, the registry
simulator and the four services as real processes on loopback. Used by ``make run`` and by
the integration and end-to-end test fixtures."""
