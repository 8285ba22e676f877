"""Registry-sync's use cases: recording what arrives, executing commands and portal pushes
through the reliability policy, reconciliation and the status summary."""
