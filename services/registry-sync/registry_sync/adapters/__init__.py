"""Registry-sync's adapters: HTTP clients of the external systems, and its PostgreSQL tables."""
