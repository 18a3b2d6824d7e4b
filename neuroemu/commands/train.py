"""The ``neuroemu train`` subcommand: float, quantization-aware or zero-aware training of a CNN,
saved as TorchScript, which ``neuroemu convert`` reads as it is."""

from __future__ import annotations

import argparse

from .arguments import float_range, int_range, output_file

__all__ = ["register", "cmd_train"]


def cmd_train(args: argparse.Namespace) -> None:
    """Train the 2-conv + 2-FC CNN on digits or MNIST and save it as TorchScript."""
    import torch

    from converters.chips.akida import AkidaBits
    from converters.training import datasets, train
    from converters.training.models import two_conv_two_fc
    from converters.training.zero_aware import ZeroAware

    data = datasets.digits() if args.data == "digits" else datasets.mnist(args.mnist_dir)
    channels, size = data.sample_shape[0], data.sample_shape[1]
    torch.manual_seed(args.seed)
    bits = None if args.float else AkidaBits(args.weight_bits, args.activation_bits)
    penalty = None
    if args.zero_aware_activations or args.zero_aware_weights:
        penalty = ZeroAware(
            args.zero_aware_activations, args.zero_aware_weights, args.zero_aware_warmup
        )
    model = train(
        two_conv_two_fc(channels, size),
        data,
        epochs=args.epochs,
        lr=args.lr,
        seed=args.seed,
        quantization=bits,
        zero_aware=penalty,
        log=print,
    )
    example = torch.zeros(1, *data.sample_shape)
    torch.jit.save(torch.jit.trace(model.eval(), example), args.out)
    print(f"model: {args.out}")


def register(subparsers) -> None:
    """Add ``train`` to the ``neuroemu`` subcommands."""
    p = subparsers.add_parser(
        "train",
        help="train a 2-conv + 2-FC CNN (float, Akida quantization-aware, zero-aware)",
    )
    p.add_argument("--data", default="mnist", choices=("mnist", "digits"))
    p.add_argument("--mnist-dir", help="directory of the MNIST idx files")
    p.add_argument("--epochs", type=int_range(1), default=5)
    p.add_argument("--lr", type=float_range(0, low_open=True), default=1e-3)
    p.add_argument("--seed", type=int_range(0), default=0)
    p.add_argument("--float", action="store_true", help="no quantization-aware training")
    p.add_argument("--weight-bits", type=int, default=4, choices=(1, 2, 4))
    p.add_argument("--activation-bits", type=int, default=4, choices=(1, 2, 4))
    p.add_argument("--zero-aware-activations", type=float_range(0), default=0.0, metavar="λa",
                   help="penalty weight on non-zero activations")  # fmt: skip
    p.add_argument("--zero-aware-weights", type=float_range(0), default=0.0, metavar="λw",
                   help="penalty weight on non-zero weights")  # fmt: skip
    p.add_argument("--zero-aware-warmup", type=float_range(0), default=1.0, metavar="EPOCHS",
                   help="epochs over which the penalty weights rise from 0 (default: %(default)s)")  # fmt: skip
    p.add_argument(
        "--out",
        default="model.pt",
        type=output_file,
        help="TorchScript model file, input to 'neuroemu convert' (default: %(default)s)",
    )
    p.set_defaults(func=cmd_train)
