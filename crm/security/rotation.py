"""Key rotation: re-encrypt every encrypted column and recompute every blind index.

Works from the model metadata, so a new encrypted column is rotated without touching this file:
columns of type EncryptedText are found by type, blind indexes by ``info["blind_index_of"]``.
"""

from __future__ import annotations

from sqlalchemy import Table
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session

from crm.db import Base
from crm.security.crypto import EncryptedText
from crm.security.crypto import keyring


def _encrypted_columns(table: Table) -> list[str]:
    return [c.name for c in table.columns if isinstance(c.type, EncryptedText)]


def _index_columns(table: Table) -> dict[str, tuple[str, str]]:
    """Map index column -> (source column, purpose)."""
    return {
        c.name: (c.info["blind_index_of"], c.info["purpose"])
        for c in table.columns
        if "blind_index_of" in c.info
    }


def rotate_table(session: Session, table: Table) -> int:
    """Rewrite one table's encrypted values with the primary key; return the values rewritten."""
    columns = _encrypted_columns(table)
    if not columns:
        return 0
    indexes = _index_columns(table)
    ring = keyring()
    pk = table.primary_key.columns.values()[0]
    count = 0
    # Read through the type (decrypting with whichever key made each value); writing back
    # through the same type encrypts with the primary key.
    for row in session.execute(select(pk, *[table.c[c] for c in columns])).all():
        values = {c: getattr(row, c) for c in columns}
        changes = {c: v for c, v in values.items() if v is not None}
        for index_col, (source, purpose) in indexes.items():
            if values.get(source) is not None:
                changes[index_col] = ring.blind_index(values[source], purpose)
        if changes:
            session.execute(update(table).where(pk == row[0]).values(**changes))
            count += sum(1 for c in columns if values[c] is not None)
    return count


def rotate_all(session: Session) -> dict[str, int]:
    """Rotate every table that has encrypted columns; return counts per table.

    Every model is in the metadata because create_app imports crm.models (the kernel imports
    no feature, so it cannot import them itself).
    """
    return {
        name: rotate_table(session, table)
        for name, table in Base.metadata.tables.items()
        if _encrypted_columns(table)
    }
