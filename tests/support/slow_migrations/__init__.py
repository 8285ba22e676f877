"""A migrations package whose one migration takes longer than the tests' tight statement limits."""
