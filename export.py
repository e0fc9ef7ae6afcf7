#!/usr/bin/env python3
"""Export a transformers model's embeddings as a static TensorFlow Embedding Projector bundle.

The command line lives in `projector_bundle.cli` (installed as `projector-bundle`);
`export.py --help` lists the commands, and the README's Usage section shows them all.
"""

import gc

from projector_bundle.cli import main

if __name__ == "__main__":
    status = main()
    # The process ends here: frozen, its objects are not walked once more by the garbage
    # collector on the way out (0.03 s after a bert-base export).
    gc.freeze()
    raise SystemExit(status)
