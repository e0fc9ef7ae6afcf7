#!/usr/bin/env python3
"""Export a transformers model's embeddings as a static TensorFlow Embedding Projector bundle.

The command line lives in `projector_bundle.cli` (installed as `projector-bundle`);
`export.py --help` lists the commands, and the README's Usage section shows them all.
"""

from projector_bundle.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
