"""Models in: resolve a hub id or folder, read its embedding tables and vocabulary, know its tokenizer scheme."""
