"""Model import: torch, ONNX and OpenVINO into the layer graph, NIR graphs into LoihiNets or
the layer graph, and BrainChip akida models into Akida records."""

__all__: list[str] = []
