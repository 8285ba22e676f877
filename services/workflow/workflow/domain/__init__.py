"""Workflow's domain: the dossier aggregate, its lifecycle table, deadlines and the bundle saga.

Pure: no FastAPI, SQLAlchemy or aiokafka. It uses the contracts (event payloads, catalogue data) and
the working-day calendar, both plain libraries.
"""
