"""Neural network layers of mash-kg (PyTorch Geometric style: one layer per file in conv/)."""
