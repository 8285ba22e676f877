"""A migration's checksum: of what it does, not of its comments or spacing."""

from __future__ import annotations

from eventkit.migrations import Migration


def test_a_comment_or_spacing_edited_keeps_the_checksum_a_statement_edited_changes_it() -> None:
    sql = "-- why\nCREATE INDEX i ON t (a);\nALTER TABLE t ADD COLUMN b INT;\n"
    same = "-- why, said better\n-- over two lines\nCREATE  INDEX i\n  ON t (a);\n\nALTER TABLE t ADD COLUMN b INT;\n"
    other = "-- why\nCREATE INDEX i ON t (a, b);\nALTER TABLE t ADD COLUMN b INT;\n"
    assert Migration("p", "0001.sql", sql).checksum == Migration("p", "0001.sql", same).checksum
    assert Migration("p", "0001.sql", sql).checksum != Migration("p", "0001.sql", other).checksum
