"""Registry sync: national registries and portal synchronisation."""
