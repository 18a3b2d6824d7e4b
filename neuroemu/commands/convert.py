"""The ``neuroemu convert`` subcommand: a trained model file to a Loihi or Akida network."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from converters.chips.loihi import RESETS
from converters.training import datasets

from .arguments import float_range, int_range, output_file

__all__ = ["register", "cmd_convert", "model_sample_shape"]

MODEL_SUFFIXES = (".pt", ".pth", ".onnx", ".xml")


def register(subparsers) -> None:
    """Add ``convert`` to the ``neuroemu`` subcommands."""
    conv = subparsers.add_parser(
        "convert", help="convert a trained model into a Loihi or Akida network (.npz)"
    )
    conv.add_argument(
        "model", help="trained model: .pt/.pth (torch module), .onnx or OpenVINO .xml"
    )
    conv.add_argument(
        "--out", required=True, type=output_file, help="where to write the converted network (.npz)"
    )
    conv.add_argument("--target", default="loihi", choices=("loihi", "akida"))
    conv.add_argument(
        "--calibration",
        help="calibration inputs (training split): 'digits', 'mnist' or an .npy/.npz file "
        "(default: mnist when the model reads (1, 28, 28) images, else digits)",
    )
    conv.add_argument(
        "--calibration-samples",
        type=int_range(1),
        default=1000,
        help="calibration samples used (default: %(default)s)",
    )
    conv.add_argument(
        "--percentile",
        type=float_range(0, 100, low_open=True),
        default=99.9,
        help="normalization percentile in (0, 100], 100 = max (default: %(default)s)",
    )
    conv.add_argument("--timesteps", type=int_range(1), default=128, help="Loihi steps per sample")
    conv.add_argument("--reset", default="subtract", choices=RESETS, help="Loihi reset mode")
    conv.add_argument(
        "--encoding", default="bias", choices=("bias", "rate"), help="Loihi input encoding"
    )
    conv.add_argument(
        "--threshold-mant",
        type=int_range(1, 2**17 - 1),
        default=1024,
        help="Loihi vth mantissa of every layer, 1..131071 (default: %(default)s)",
    )
    conv.add_argument(
        "--arch",
        metavar="NAME[:ARG]",
        help="architecture of a state-dict model file, a function of converters.training.models "
        "(e.g. lenet5, digits_cnn:16, two_conv_two_fc)",
    )
    conv.add_argument("--mnist-dir", help="directory of the MNIST idx files")
    conv.add_argument(
        "--replace-maxpool",
        action="store_true",
        help="replace max pooling by average pooling of the same window (changes the "
        "function; see --fine-tune)",
    )
    conv.add_argument(
        "--fine-tune",
        type=int_range(1),
        metavar="EPOCHS",
        help="with --replace-maxpool: fine-tune the average-pooled model this many epochs on "
        "the labelled calibration samples (state dict with --arch only)",
    )
    conv.add_argument(
        "--drop-output-bias",
        action="store_true",
        help="Akida: drop the output layer's bias (the AKD1000 has none there)",
    )
    conv.set_defaults(func=cmd_convert)


ACCEPTED_TORCH = (
    "accepted torch files: TorchScript (torch.jit.save) or a state dict "
    "(torch.save(model.state_dict())) with --arch NAME of converters.training.models; "
    "pickled whole models are never loaded"
)


def _read_model(path: Path, arch: str | None = None):
    """The model object of a file: a torch module (.pt/.pth) or the path itself (.onnx, .xml).

    Torch files are TorchScript or a state dict of the ``arch`` architecture; nothing is
    unpickled beyond tensors (``weights_only=True``).
    """
    if path.suffix not in MODEL_SUFFIXES:
        raise ValueError(
            f"unknown model format {path.suffix!r}; accepted: .pt/.pth (torch), .onnx, .xml (OpenVINO)"
        )
    if not path.is_file():
        raise FileNotFoundError(f"model file {path} does not exist")
    if path.suffix in (".onnx", ".xml"):
        return path
    import torch

    try:
        return torch.jit.load(str(path)).eval()
    except RuntimeError:
        pass
    try:
        state = torch.load(str(path), weights_only=True)
    except Exception as err:  # pickle.UnpicklingError, RuntimeError, EOFError, ...
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(f"{path} cannot be loaded safely ({first}); {ACCEPTED_TORCH}") from None
    if not isinstance(state, dict):
        raise ValueError(f"{path} holds a {type(state).__name__}; {ACCEPTED_TORCH}")
    if arch is None:
        raise ValueError(f"{path} holds a state dict: pass --arch NAME; {ACCEPTED_TORCH}")
    model = _architecture(arch)
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        raise ValueError(f"{path} does not fit --arch {arch}: {str(err).splitlines()[0]}") from None
    return model.eval()


def _architecture(spec: str):
    """A fresh module of ``converters.training.models``: ``NAME`` or ``NAME:INT`` (its first argument)."""
    from converters.training import models

    name, _, arg = spec.partition(":")
    names = ["digits_cnn", "two_conv_two_fc", *models.ARCHITECTURES]
    if name not in names:
        raise ValueError(f"--arch {spec!r}: the name must be one of {names}")
    if not arg:
        return getattr(models, name)()
    if not arg.isdigit() or int(arg) < 1:
        raise ValueError(f"--arch {spec!r}: the argument must be an integer >= 1")
    return getattr(models, name)(int(arg))


def model_sample_shape(model) -> tuple[int, ...] | None:
    """The sample shape a model reads: static ONNX/IR input, or the one of digits' and
    MNIST's image shapes a torch module accepts alone; None when it cannot be told."""
    if isinstance(model, Path):
        import openvino as ov

        shape = ov.Core().read_model(str(model)).inputs[0].get_partial_shape()
        return tuple(d.get_length() for d in shape)[1:] if shape.is_static else None
    import torch

    accepted = []
    for shape in (datasets.DIGITS_SHAPE, datasets.MNIST_SHAPE):
        try:
            with torch.no_grad():
                model(torch.zeros(1, *shape))
        except (RuntimeError, ValueError):
            continue
        accepted.append(shape)
    return accepted[0] if len(accepted) == 1 else None


def _fine_tuned(model, x, labels, epochs: int):
    """``model`` with average pooling in place of max pooling, fine-tuned on (x, labels)."""
    import torch

    from converters import training

    if isinstance(model, torch.jit.ScriptModule):
        raise ValueError(
            "--fine-tune needs the model's Python class: pass a state dict with --arch NAME "
            "(TorchScript cannot swap its pooling); --replace-maxpool alone works on any model"
        )
    if labels is None or np.any(labels < 0):
        raise ValueError(
            "--fine-tune needs labelled calibration samples (digits, mnist, or .npz with y)"
        )
    model = training.replace_maxpool(model)
    return training.train(model, x, labels, epochs=epochs, lr=3e-4, batch_size=32).eval()


def cmd_convert(args: argparse.Namespace) -> None:
    """Convert a model file with calibration samples checked against its input."""
    import converters
    from converters.chips.files import save_net

    if args.fine_tune and not args.replace_maxpool:
        raise ValueError("--fine-tune fine-tunes after --replace-maxpool: pass both")
    if args.drop_output_bias and args.target != "akida":
        raise ValueError("--drop-output-bias applies to --target akida only")
    model = _read_model(Path(args.model), args.arch)
    calib, labels = datasets.load_samples(
        args.calibration,
        "train",
        args.calibration_samples,
        args.mnist_dir,
        shape=model_sample_shape(model),
        option="--calibration",
    )
    if args.fine_tune:
        model = _fine_tuned(model, calib, labels, args.fine_tune)
    graph = converters.load(model, calib[:1])
    if args.replace_maxpool:
        graph = converters.replace_maxpool(graph)
        print(
            "replaced max pooling by average pooling"
            + ("" if args.fine_tune else " (not fine-tuned)")
        )
    if args.target == "akida":
        net = converters.to_akida(graph, calib, drop_output_bias=args.drop_output_bias)
    else:
        graph = converters.normalize(graph, calib, percentile=args.percentile)
        net = converters.to_loihi(
            graph,
            timesteps=args.timesteps,
            reset=args.reset,
            input_encoding=args.encoding,
            threshold_mant=args.threshold_mant,
        )
    save_net(net, args.out)
    print(f"wrote {args.target} network ({len(net.layers)} layers) to {args.out}")
