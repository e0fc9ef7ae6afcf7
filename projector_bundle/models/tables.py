"""The embedding tables a bundle reads from a model, each named once: the name transformers
gives it (a bundle's tensor name ends with it) and where architectures keep it."""

from __future__ import annotations

WORD_TABLE = "word_embeddings"
POSITION_TABLE = "position_embeddings"
TYPE_TABLE = "token_type_embeddings"

# The module names (last part) under which architectures keep the position and token-type tables.
TABLE_MODULES = {
    POSITION_TABLE: (POSITION_TABLE, "wpe", "embed_positions"),
    TYPE_TABLE: (TYPE_TABLE,),
}
