"""Running a model over text: sentence files, corpus sampling, contextual vectors, layer paths and geometry."""
