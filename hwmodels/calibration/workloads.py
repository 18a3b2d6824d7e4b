"""Published workloads rebuilt as their papers describe them, with traces from the emulators."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

import converters
from converters import datasets, models, pipeline, training
from converters.targets.akida import AkidaBits
from emu import Emulation

__all__ = [
    "AKIDANET",
    "akidanet_counts",
    "akidanet_np_loads",
    "akidanet_mapped_nps",
    "kws_model",
    "kws",
    "blouw_scaled",
    "carsnn",
    "lenet5_mnist",
    "template_network",
    "akida_traces",
    "template_akida",
    "two_conv_two_fc_akida",
    "encoder_decoder_counts",
]

# AkidaNet 0.5 at 224x224: (kind, output side, input channels, output channels, NPs). The
# NPs are what BrainChip's mapper gives each layer on a virtual AKD1000 (akida 2.19.3, 4-bit
# weights): 68 NPs, the user guide's figure, and the HRC for the input convolution
# (``akidanet_mapped_nps`` rebuilds the model and maps it).
AKIDANET = [
    ("conv", 112, 3, 16, 1),
    ("conv", 112, 16, 32, 4),
    ("conv", 56, 32, 64, 6),
    ("conv", 56, 64, 64, 3),
    ("conv", 28, 64, 128, 6),
    ("conv", 28, 128, 128, 4),
    ("sep", 14, 128, 256, 8),
    *[("sep", 14, 256, 256, 4)] * 5,
    ("sep", 7, 256, 512, 8),
    ("sep", 7, 512, 512, 8),
    ("dense", 1, 512, 1000, 1),
]
_TAPS = {"conv": lambda cin: 9 * cin, "sep": lambda cin: 9 + cin, "dense": lambda cin: cin}


def akidanet_counts() -> tuple[float, float]:
    """Dense MACs and output activations per frame of AkidaNet 0.5 at 224x224."""
    macs = outputs = 0.0
    for kind, side, cin, cout, _ in AKIDANET:
        macs += side * side * cout * _TAPS[kind](cin)
        outputs += side * side * cout
    return macs, outputs


def akidanet_np_loads() -> tuple[float, float]:
    """Dense MACs per neural processor of AkidaNet 0.5 at 224x224: the largest and the sum
    over layers (each layer on its mapped NPs)."""
    loads = [side * side * cout * _TAPS[kind](cin) / nps for kind, side, cin, cout, nps in AKIDANET]
    return float(max(loads)), float(sum(loads))


def akidanet_mapped_nps(seed: int = 0) -> list[int]:
    """NPs per layer BrainChip's mapper gives AkidaNet 0.5 (random non-zero 4-bit weights;
    global average pooling before the classifier) on a virtual AKD1000; needs ``akida``."""
    import akida

    rng = np.random.default_rng(seed)
    model, previous = akida.Model(), 224
    for i, (kind, side, _, cout, _) in enumerate(AKIDANET):
        stride = (2, 2) if side < previous else (1, 1)
        shared = dict(filters=cout, name=f"l{i}", act_bits=4, kernel_size=(3, 3),
                      padding=akida.Padding.Same, kernel_stride=stride)  # fmt: skip
        if i == 0:
            layer = akida.InputConvolutional(input_shape=(224, 224, 3), weights_bits=8, **shared)
        elif kind == "conv":
            layer = akida.Convolutional(weights_bits=4, **shared)
        elif kind == "sep":
            pool = {"pool_type": akida.PoolType.Average} if i == len(AKIDANET) - 2 else {}
            layer = akida.SeparableConvolutional(weights_bits=4, **shared, **pool)
        else:
            layer = akida.FullyConnected(units=cout, name=f"l{i}", weights_bits=4, act_bits=4)
        model.add(layer)
        previous = side
    for layer in model.layers:
        for name in layer.variables.names:
            value = layer.variables[name]
            if name.startswith("weights"):
                top = 127 if layer.parameters.weights_bits == 8 else 7
                layer.variables[name] = rng.integers(1, top, value.shape).astype(value.dtype)
            elif name == "act_step":
                layer.variables[name] = np.full(value.shape, 4, value.dtype)
    model.map(akida.AKD1000(), hw_only=True)
    return [len(layer.mapping.nps) for layer in model.layers]


def kws_model(seed: int = 0) -> nn.Module:
    """Blouw et al. 2019's 390-256-256-29 keyword spotter with random weights."""
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Linear(390, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 29)
    )


def kws(timesteps: int = 32, seed: int = 0):
    """Blouw et al. 2019's 390-256-256-29 network: random weights normalized on uniform
    features in [0, 1] (the paper gives neither), rate-coded from the host; 20 inputs."""
    model = kws_model(seed)
    x = np.random.default_rng(seed).random((60, 390)).astype(np.float32)
    net = pipeline.loihi_net(model, x[:40], timesteps=timesteps, input_encoding="rate")
    return net, Emulation(net, device="reference").run(x[40:])


class _Scaled(nn.Module):
    """Blouw et al. 2019's scaled network: 390 -> 256, ``copies`` branches of ``layers``
    256-unit layers, their outputs summed by one 256-unit layer (a dense layer on their
    concatenation), -> 29."""

    def __init__(self, copies: int, layers: int):
        super().__init__()
        self.inp = nn.Linear(390, 256)
        self.branches = nn.ModuleList(
            nn.Sequential(*[m for _ in range(layers) for m in (nn.Linear(256, 256), nn.ReLU())])
            for _ in range(copies)
        )
        self.joins = nn.ModuleList(nn.Linear(256, 256) for _ in range(max(copies, 1)))
        self.char = nn.Linear(256, 29)

    def forward(self, x):
        h = torch.relu(self.inp(x))
        outs = [branch(h) for branch in self.branches] or [h]
        joined = self.joins[0](outs[0])
        for join, out in zip(self.joins[1:], outs[1:], strict=True):
            joined = joined + join(out)
        return self.char(torch.relu(joined))


def blouw_scaled(copies: int, layers: int = 10, timesteps: int = 32, seed: int = 0):
    """The scaled sweep's network at N = ``copies`` (N=0: the keyword spotter); random
    weights (the paper's were random too) normalized as :func:`kws`; 20 inputs."""
    torch.manual_seed(seed)
    model = _Scaled(copies, layers if copies else 0)
    x = np.random.default_rng(seed).random((60, 390)).astype(np.float32)
    net = pipeline.loihi_net(model, x[:40], timesteps=timesteps, input_encoding="rate")
    return net, Emulation(net, device="reference").run(x[40:])


def carsnn(timesteps: int = 10, seed: int = 0):
    """CarSNN (Viale et al. 2021) as its paper outlines it: a spiking CNN on DVS event
    frames (2 polarities, a 32x32 window here), two classes, a 10-step sample; random
    weights normalized on sparse synthetic event frames (about 5% of pixels active)."""
    torch.manual_seed(seed)
    model = nn.Sequential(
        nn.Conv2d(2, 8, 3, padding=1),
        nn.ReLU(),
        nn.AvgPool2d(2),
        nn.Conv2d(8, 8, 3, padding=1),
        nn.ReLU(),
        nn.AvgPool2d(2),
        nn.Flatten(),
        nn.Linear(8 * 8 * 8, 100),
        nn.ReLU(),
        nn.Linear(100, 2),
    )
    rng = np.random.default_rng(seed)
    x = (rng.random((40, 2, 32, 32)) < 0.05).astype(np.float32)
    net = pipeline.loihi_net(model, x[:20], timesteps=timesteps, input_encoding="rate")
    return net, Emulation(net, device="reference").run(x[20:])


def lenet5_mnist(samples: int = 100, epochs: int = 1, timesteps: int = 64):
    """LeNet-5 trained on MNIST, its graph, Loihi net and traces on ``samples`` test images."""
    data = datasets.mnist()
    model = training.train(models.lenet5(), data.x_train, data.y_train, epochs=epochs)
    graph = pipeline.normalized_graph(model, data.x_train[:500])
    net = converters.to_loihi(graph, timesteps=timesteps)
    x, y = data.x_test[:samples], data.y_test[:samples]
    return model, graph, net, Emulation(net, device="reference").run(x, y), (x, y)


def template_network(seed: int = 0) -> nn.Module:
    """The course's MNIST template: conv 16, conv 16 (3x3, ReLU, 2x2 max pool), dense 10."""
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 16, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 7 * 7, 10),
    )


def akida_traces(net, x: np.ndarray, y: np.ndarray):
    """Akida-emulated traces of ``net`` on images ``x``."""
    return Emulation(net, device="reference").run(x, y)


def _akida_mnist(model: nn.Module, samples: int, epochs: int, bits: AkidaBits):
    data = datasets.mnist()
    model = training.train(model, data.x_train, data.y_train, epochs=epochs)
    net = pipeline.akida_net(model, data.x_train[:1000], bits=bits, drop_output_bias=True)
    x, y = data.x_test[:samples], data.y_test[:samples]
    return net, akida_traces(net, x, y)


def template_akida(samples: int = 1000, epochs: int = 2, seed: int = 0):
    """The template CNN trained on MNIST, as an AkidaNet (8-bit input weights), and traces."""
    return _akida_mnist(template_network(seed), samples, epochs, AkidaBits(input_weights=8))


def two_conv_two_fc_akida(samples: int = 300, epochs: int = 1, seed: int = 0):
    """The 2-conv + 2-FC MNIST network of the zero-aware comparison (plain training)."""
    from converters.training.models import two_conv_two_fc

    torch.manual_seed(seed)
    return _akida_mnist(two_conv_two_fc(), samples, epochs, AkidaBits(weights=4, activations=4))


def encoder_decoder_counts(
    side: int, channels: int, filters: list[int], out_channels: int = 4
) -> dict[str, tuple[float, float, float]]:
    """MACs, weights and activations (input + output values) per layer of the encoder-decoder
    timed on an NCS2 in ``prg_prgncs`` (``data/published_ncs2.json``), as its
    ``tf_model.py`` builds it: per filter count a residual block (3x3 conv + ReLU, 3x3 conv,
    1x1 shortcut conv when the shape changes, add, ReLU) and 2x2 max pooling; then per
    filter count in reverse, a 3x3 transposed conv of stride 2 and one of stride 1; a 3x3
    conv to ``out_channels``. A transposed conv does k*k MACs per input value and output
    channel."""
    counts: dict[str, tuple[float, float, float]] = {}

    def conv(name, h_in, h_out, cin, cout, k, per_input=False):
        macs = (h_in if per_input else h_out) ** 2 * k * k * cin * cout
        counts[name] = (macs, k * k * cin * cout + cout, h_in**2 * cin + h_out**2 * cout)

    h, c = side, channels
    for i, f in enumerate(filters):
        conv(f"enc{i}.conv1", h, h, c, f, 3)
        conv(f"enc{i}.conv2", h, h, f, f, 3)
        if c != f:
            conv(f"enc{i}.shortcut", h, h, c, f, 1)
        counts[f"enc{i}.add"] = (h * h * f, 0, 3 * h * h * f)
        counts[f"enc{i}.pool"] = (h * h * f, 0, h * h * f * 5 / 4)
        h, c = h // 2, f
    for i, f in enumerate(reversed(filters)):
        conv(f"dec{i}.up", h, 2 * h, c, f, 3, per_input=True)
        h, c = 2 * h, f
        conv(f"dec{i}.conv", h, h, f, f, 3, per_input=True)
    conv("out", h, h, c, out_channels, 3)
    return counts
