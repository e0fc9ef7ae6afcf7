"""The point clouds: labelled tensors, label columns, projections, neighbours, sampling and size advice (pure)."""
