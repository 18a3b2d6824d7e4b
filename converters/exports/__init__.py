"""Networks written for other tools: LoihiNets as NIR graphs, Akida records as akida models,
the layer graph as an OpenVINO model."""

__all__: list[str] = []
