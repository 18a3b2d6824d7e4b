"""The model paths people bring: functional max pooling, a final (log-)softmax, and the
``convert`` flags that apply the remedies the messages name."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_cli import _fails
from torch import nn
from torch.nn import functional as F

import converters
from converters import datasets, training
from converters.chips.files import load_net
from converters.graph import AvgPool2d, MaxPool2d
from emu.engines import loihi_reference as ref
from emu.traces.access import open_traces
from neuroemu.commands import main


class FunctionalCNN(nn.Module):
    """A small CNN that pools with ``F.max_pool2d`` and ends in ``log_softmax``, as
    PyTorch's MNIST example does."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, 1)
        self.conv2 = nn.Conv2d(4, 8, 3, 1)
        self.fc = nn.Linear(8 * 2 * 2, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return F.log_softmax(self.fc(torch.flatten(x, 1)), dim=1)


def _model() -> nn.Module:
    torch.manual_seed(0)
    return FunctionalCNN().eval()


def test_functional_max_pooling_is_replaced():
    """replace_maxpool rewrites F.max_pool2d into average pooling, parameters shared."""
    model = _model()
    x = torch.rand(3, 1, 8, 8)
    averaged = training.replace_maxpool(model)
    expected = F.log_softmax(
        model.fc(torch.flatten(F.avg_pool2d(F.relu(model.conv2(F.relu(model.conv1(x)))), 2), 1)),
        dim=1,
    )
    torch.testing.assert_close(averaged(x), expected)
    assert averaged.conv1.weight is model.conv1.weight
    graph = converters.load(averaged.eval(), x.numpy())
    assert not any(isinstance(n, MaxPool2d) for n in graph.nodes)
    assert any(isinstance(n, AvgPool2d) for n in graph.nodes)


def test_untraceable_models_are_refused_not_skipped():
    class Branchy(nn.Module):
        def forward(self, x):
            return F.max_pool2d(x, 2) if x.sum() > 0 else x

    with pytest.raises(ValueError, match="cannot trace"):
        training.replace_maxpool(Branchy())


def test_a_final_log_softmax_is_dropped_with_a_note():
    model = training.replace_maxpool(_model()).eval()
    x = torch.rand(2, 1, 8, 8)
    with pytest.warns(UserWarning, match="dropped the final"):
        graph = converters.load(model, x.numpy())
    logits = torch.as_tensor(graph.forward(x.numpy()))
    torch.testing.assert_close(
        F.log_softmax(logits, 1).float(), model(x).detach(), atol=1e-4, rtol=1e-4
    )


class SoftmaxInside(nn.Module):
    """A softmax between two layers: not a final one that conversion may drop."""

    def __init__(self):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(4, 4), nn.Linear(4, 2)

    def forward(self, x):
        return self.fc2(F.softmax(self.fc1(x), dim=1))


def test_a_softmax_inside_the_model_is_refused():
    with pytest.raises(converters.UnsupportedLayerError, match="only a final softmax"):
        converters.load(SoftmaxInside().eval(), np.zeros((1, 4), np.float32))


def _scripted(tmp_path) -> str:
    path = tmp_path / "cnn.pt"
    torch.jit.save(torch.jit.trace(_model(), torch.rand(1, 1, 8, 8)), str(path))
    return str(path)


def test_convert_replace_maxpool_on_a_torchscript_model(tmp_path, capsys):
    """--replace-maxpool converts a max-pooling model for Loihi; without it, the refusal
    names the flag."""
    path = _scripted(tmp_path)
    common = [path, "--calibration", "digits", "--calibration-samples", "50", "--timesteps", "8"]
    err = _fails(["convert", *common, "--out", str(tmp_path / "a.npz")], capsys)
    assert "--replace-maxpool" in err
    main(["convert", *common, "--out", str(tmp_path / "b.npz"), "--replace-maxpool"])
    assert "not fine-tuned" in capsys.readouterr().out
    assert load_net(tmp_path / "b.npz").target == "loihi"


def test_convert_flag_misuse_is_refused(tmp_path, capsys):
    path = _scripted(tmp_path)
    common = [path, "--calibration", "digits", "--out", str(tmp_path / "c.npz")]
    assert "pass both" in _fails(["convert", *common, "--fine-tune", "1"], capsys)
    assert "akida only" in _fails(["convert", *common, "--drop-output-bias"], capsys)
    err = _fails(["convert", *common, "--replace-maxpool", "--fine-tune", "1"], capsys)
    assert "--arch" in err


def _bn_ir(path, opset: str):
    """An OpenVINO IR: Convolution, BatchNormInference of ``opset``, ReLU, MatMul."""
    import importlib

    import openvino as ov

    ops = importlib.import_module(f"openvino.{opset}")
    rng = np.random.default_rng(0)
    weight = rng.normal(size=(3, 1, 3, 3)).astype(np.float32)
    stats = [rng.uniform(0.5, 1.5, 3).astype(np.float32) for _ in range(4)]
    dense = rng.normal(size=(48, 2)).astype(np.float32)
    x = ops.parameter([1, 1, 6, 6], np.float32, name="x")
    conv = ops.convolution(x, ops.constant(weight), [1, 1], [0, 0], [0, 0], [1, 1], name="conv")
    bn = ops.batch_norm_inference(conv, *stats, 1e-3, name="bn")
    flat = ops.reshape(ops.relu(bn), ops.constant(np.array([1, 48], np.int64)), False)
    out = ops.matmul(flat, ops.constant(dense), False, False)
    ov.save_model(ov.Model([out], [x], "bn"), str(path), compress_to_fp16=False)

    def forward(inp: np.ndarray) -> np.ndarray:
        gamma, beta, mean, var = (torch.as_tensor(v, dtype=torch.float64) for v in stats)
        y = F.conv2d(torch.as_tensor(inp, dtype=torch.float64), torch.as_tensor(weight).double())
        y = F.batch_norm(y, mean, var, gamma, beta, eps=1e-3)
        return (F.relu(y).flatten(1) @ torch.as_tensor(dense).double()).numpy()

    return forward


@pytest.mark.parametrize("opset", ["opset1", "opset13"])
def test_batchnorm_inference_folds_into_the_convolution(tmp_path, opset):
    """OpenVINO IR BatchNormInference (either input order) folds into the conv before it."""
    forward = _bn_ir(tmp_path / "bn.xml", opset)
    x = np.random.default_rng(1).random((1, 1, 6, 6)).astype(np.float32)
    expected = forward(x)
    graph = converters.load(tmp_path / "bn.xml")
    assert [type(n).__name__ for n in graph.nodes][:2] == ["Input", "Conv2d"]
    np.testing.assert_allclose(graph.forward(x), expected, rtol=1e-4, atol=1e-4)


def test_onnx_batch_normalization_is_folded(tmp_path):
    """An ONNX BatchNormalization after a convolution loads (folded), equal to torch."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3), nn.ReLU(), nn.Flatten())
    with torch.no_grad():
        model[1].running_mean.uniform_(-1, 1)
        model[1].running_var.uniform_(0.5, 2)
    model.eval()
    x = torch.rand(1, 1, 6, 6)
    torch.onnx.export(model, (x,), str(tmp_path / "bn.onnx"), dynamo=False)
    graph = converters.load(tmp_path / "bn.onnx")
    np.testing.assert_allclose(graph.forward(x.numpy()), model(x).detach().numpy(), atol=1e-5)


class ExamplesMnistCNN(nn.Module):
    """The PyTorch examples' MNIST CNN: its fully connected layer reads 9,216 pooled values."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv2(F.relu(self.conv1(x)))), 2)
        x = F.relu(self.fc1(torch.flatten(self.dropout1(x), 1)))
        return F.log_softmax(self.fc2(self.dropout2(x)), dim=1)


@pytest.mark.slow
def test_examples_mnist_cnn_converts_runs_and_estimates_for_loihi(tmp_path, capsys):
    """Its fan-in (up to 9,216 x 4 pooled sources) is split at conversion; the native run
    equals the reference spike for spike and the estimate maps it without a refusal."""
    if not any(datasets.DEFAULT_MNIST_DIR.glob("t10k-images-idx3-ubyte*")):
        pytest.skip(f"no MNIST test set in {datasets.DEFAULT_MNIST_DIR} (set NEUROEMU_MNIST)")
    torch.manual_seed(0)
    path = tmp_path / "cnn.pt"
    torch.jit.save(torch.jit.trace(ExamplesMnistCNN().eval(), torch.rand(1, 1, 28, 28)), path)
    net_path, traces_path = tmp_path / "net.npz", tmp_path / "t.h5"
    main(
        ["convert", str(path), "--calibration", "mnist", "--calibration-samples", "50"]
        + ["--timesteps", "16", "--replace-maxpool", "--out", str(net_path)]
    )
    net = load_net(net_path)
    fc1 = net.layers[2]
    fan_in = int(fc1.projections[0].fan_in(fc1.size).max())
    assert fan_in > 4096 and fc1.fan_in_split == -(-fan_in // 4096)
    assert all(layer.fan_in_split == 1 for layer in net.layers if layer is not fc1)
    main(["run", str(net_path), "--device", "native", "--samples", "3", "--out", str(traces_path)])
    main(["estimate", str(traces_path), "--net", str(net_path)])
    assert "energy" in capsys.readouterr().out
    traces = open_traces(traces_path)
    x, _ = datasets.load_samples("mnist", limit=3)
    expected = ref.simulate(net, net.input.levels(x))
    assert sum(expected.counts[fc1.name].sum(1)) > 0
    for name in net.layer_names:
        np.testing.assert_array_equal(traces[f"spike_count_{name}"].values, expected.counts[name])


def test_refusals_name_the_onnx_node_as_in_the_file(tmp_path):
    """OpenVINO renames nodes; the refusal names the node the file holds."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(np.eye(4, dtype=np.float32), "W")
    nodes = [
        helper.make_node("MatMul", ["x", "W"], ["Softmax_829_in"], name="n44"),
        helper.make_node("Softmax", ["Softmax_829_in"], ["Softmax_829"], name="n45"),
        helper.make_node("MatMul", ["Softmax_829", "W"], ["y"], name="n46"),
    ]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    model = helper.make_model(
        helper.make_graph(nodes, "g", [x], [y], [weight]),
        opset_imports=[helper.make_opsetid("", 13)],
    )
    path = tmp_path / "m.onnx"
    onnx.save(model, str(path))
    with pytest.raises(converters.UnsupportedLayerError, match=r"'Softmax' \(node 'n45'\)"):
        converters.load(str(path))


def test_refusals_name_the_torch_call_not_openvino_names():
    with pytest.raises(converters.UnsupportedLayerError) as err:
        converters.load(SoftmaxInside().eval(), np.zeros((1, 4), np.float32))
    assert "(a call of softmax in forward)" in str(err.value)
    assert "aten::" not in str(err.value)
    with pytest.warns(UserWarning, match=r"dropped the final LogSoftmax \(a call of log_softmax"):
        converters.load(_model(), np.zeros((1, 1, 8, 8), np.float32))
