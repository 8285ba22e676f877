"""Data only: a package so that setuptools ships its JSON files (package-data globs are per package)."""
