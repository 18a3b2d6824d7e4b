"""Quantization of the float layer graph onto a chip: normalization, the populations and
linear maps between them, and one quantizer per chip (Loihi, Akida v1 and v2)."""

__all__: list[str] = []
