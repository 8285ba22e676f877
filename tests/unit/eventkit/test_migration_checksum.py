"""A migration's checksum: of what it does, not of its comments or spacing."""

from __future__ import annotations

from eventkit.migrations import Migration


def test_a_comment_or_spacing_edited_keeps_the_checksum_a_statement_edited_changes_it() -> None:
    sql = "-- why\nCREATE INDEX i ON t (a);\nALTER TABLE t ADD COLUMN b TEXT DEFAULT '--';\n"
    same = (
        "-- why, said better\n-- over two lines\nCREATE  INDEX i\n  ON t (a); -- and a note\n\n"
        "ALTER TABLE t ADD COLUMN b TEXT DEFAULT '--'; -- a dash is no comment in quotes\n"
    )
    others = [
        "-- why\nCREATE INDEX i ON t (a, b);\nALTER TABLE t ADD COLUMN b TEXT DEFAULT '--';\n",
        "-- why\nCREATE INDEX i ON t (a);\nALTER TABLE t ADD COLUMN b TEXT DEFAULT '-';\n",
    ]

    def checksum(text: str) -> str:
        return Migration("p", "0001.sql", text).checksum

    assert checksum(sql) == checksum(same) and checksum(sql).startswith("1:")
    assert all(checksum(sql) != checksum(other) for other in others)
