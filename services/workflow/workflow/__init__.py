"""Workflow: dossier lifecycle, deadlines, officials' tasks, sagas."""
