"""The TensorFlow Embedding Projector's side: file names, config schema, metadata cells, colouring rules,
the page and the validator that reads a bundle the way the projector will."""
