"""Import of torch modules, ONNX files and OpenVINO models into the layer graph."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import converters
from converters.graph import Add, AvgPool2d, Conv2d, Dense, Flatten, MaxPool2d


class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.pool = nn.AvgPool2d(2)
        self.conv2 = nn.Conv2d(4, 4, 3, padding=1)
        self.mp = nn.MaxPool2d(2)
        self.drop = nn.Dropout(0.3)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        x = self.pool(torch.relu(self.bn(self.conv1(x))))
        x = x + torch.relu(self.conv2(x))
        return self.fc(self.drop(torch.flatten(self.mp(x), 1)))


def _trained_like(model: nn.Module) -> nn.Module:
    torch.manual_seed(0)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.data = torch.randn(m.num_features)
            m.running_var.data = torch.rand(m.num_features) + 0.5
            m.weight.data = torch.randn(m.num_features)
    return model.eval()


def test_torch_model_imports_with_batchnorm_folded_and_dropout_dropped():
    model = _trained_like(Residual())
    x = torch.randn(6, 1, 8, 8)
    graph = converters.load(model, x[:1])
    kinds = [type(n) for n in graph.nodes[1:]]
    assert kinds == [Conv2d, AvgPool2d, Conv2d, Add, MaxPool2d, Flatten, Dense]
    assert graph.nodes[1].relu and graph.nodes[3].relu and not graph.nodes[-1].relu
    np.testing.assert_allclose(graph.forward(x.numpy()), model(x).detach().numpy(), atol=1e-4)


def test_onnx_file_and_openvino_model_give_the_same_graph(tmp_path):
    import openvino as ov

    model = _trained_like(Residual())
    x = torch.randn(3, 1, 8, 8)
    path = tmp_path / "net.onnx"
    torch.onnx.export(model, x[:1], str(path), dynamo=False)
    from_onnx = converters.load(path, x[:1].numpy())
    from_ov = converters.load(ov.convert_model(model, example_input=x[:1]), x[:1].numpy())
    expected = model(x).detach().numpy()
    for graph in (from_onnx, from_ov):
        np.testing.assert_allclose(graph.forward(x.numpy()), expected, atol=1e-4)


def test_unsupported_layer_is_refused_with_its_type_name_and_the_supported_list():
    model = nn.Sequential(
        nn.Conv2d(1, 2, 3), nn.Sigmoid(), nn.Flatten(), nn.Linear(2 * 6 * 6, 3)
    ).eval()
    with pytest.raises(converters.UnsupportedLayerError) as err:
        converters.load(model, torch.zeros(1, 1, 8, 8))
    message = str(err.value)
    assert "Sigmoid" in message and "supported:" in message and "AvgPool2d" in message


def test_nan_weights_are_refused_naming_the_layer():
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 4)).eval()
    model[1].weight.data[0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN or infinite"):
        converters.load(model, torch.zeros(1, 1, 4, 4))


def test_wrong_input_shape_is_refused(digits_graph, digits):
    with pytest.raises(ValueError, match="expects"):
        digits_graph.forward(np.zeros((2, 1, 28, 28)))


def test_torch_model_without_example_input_is_refused():
    with pytest.raises(ValueError, match="example_input"):
        converters.load(nn.Linear(3, 2))


def test_unknown_model_type_is_refused():
    with pytest.raises(TypeError, match="accepted"):
        converters.load(42)


def _export(model: nn.Module, path, **kwargs) -> None:
    torch.onnx.export(model, torch.zeros(1, 1, 28, 28), str(path), dynamo=False, **kwargs)


def test_static_onnx_file_and_ir_load_alone_with_the_torch_layer_names(tmp_path):
    import openvino as ov

    from converters.training import models

    model = _trained_like(models.resnet((4, 8)))
    x = torch.rand(3, 1, 28, 28)
    _export(model, tmp_path / "net.onnx")
    ir = ov.convert_model(model, example_input=x[:1])
    ir.reshape([1, 1, 28, 28])  # an IR with a static shape, as OpenVINO's tools write one
    ov.save_model(ir, str(tmp_path / "net.xml"), compress_to_fp16=False)
    from_torch = converters.load(model, x[:1])
    expected = model(x).detach().numpy()
    for path in (tmp_path / "net.onnx", tmp_path / "net.xml"):
        graph = converters.load(path)
        np.testing.assert_allclose(graph.forward(x.numpy()), expected, atol=1e-4)
    names = [n.name for n in from_torch.nodes]
    assert names == [n.name for n in converters.load(tmp_path / "net.onnx").nodes]
    assert "layer4_downsample_0" in names and "layer3_conv1" in names


def test_dynamic_batch_is_fixed_and_dynamic_image_size_asks_for_example_input(tmp_path):
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1)).eval()
    _export(model, tmp_path / "batch.onnx", input_names=["x"], dynamic_axes={"x": {0: "n"}})
    assert converters.load(tmp_path / "batch.onnx").input.shape == (1, 28, 28)
    axes = {"x": {0: "n", 2: "h", 3: "w"}}
    _export(model, tmp_path / "hw.onnx", input_names=["x"], dynamic_axes=axes)
    with pytest.raises(ValueError, match="example_input") as err:
        converters.load(tmp_path / "hw.onnx")
    assert "\n" not in str(err.value)
    graph = converters.load(tmp_path / "hw.onnx", example_input=np.zeros((1, 1, 12, 12)))
    assert graph.input.shape == (1, 12, 12)


@pytest.mark.parametrize(
    "source, error",
    [
        ("missing.onnx", FileNotFoundError),
        (42, TypeError),
        (
            nn.Sequential(nn.Flatten(), nn.Linear(784, 3), nn.Tanh()),
            converters.UnsupportedLayerError,
        ),
    ],
)
def test_bad_sources_give_one_line_errors(source, error):
    with pytest.raises(error) as err:
        converters.load(
            source, torch.zeros(1, 1, 28, 28) if isinstance(source, nn.Module) else None
        )
    assert "\n" not in str(err.value) and len(str(err.value)) < 400
