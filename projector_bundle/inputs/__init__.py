"""The user's own data: tables of metadata columns, vectors they already have, texts to embed."""
