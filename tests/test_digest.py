"""Network digests follow every field of every record, found by walking the dataclasses."""

import dataclasses

import numpy as np
import pytest

from converters.chips.akida import AkidaLayer, AkidaNet
from converters.chips.files import digest
from converters.chips.loihi import LoihiInput, LoihiLayer, LoihiNet, LoihiProjection


def _loihi() -> LoihiNet:
    proj = LoihiProjection("input", [0, 1, 2], [0, 1, 0], [2, -4, 6], 1)
    layer = LoihiLayer("hidden", 2, [proj], 100, np.array([1, -2]), 1, shape=(2,))
    return LoihiNet(LoihiInput((3,), "bias", 1.0), [layer], 8)


def _akida() -> AkidaNet:
    w = np.arange(-3, 3, dtype=np.int8).reshape(2, 3)
    layer = AkidaLayer("dense", "dense", (1, 1, 2), w, np.zeros(3, np.int32), np.ones(3), 4, 4)
    return AkidaNet((1, 1, 2), 4, [layer])


def _changed(value):
    """A different value of the same kind."""
    if isinstance(value, np.ndarray):
        out = value.copy()
        out.flat[0] = out.flat[0] + 1 if out.dtype != bool else not out.flat[0]
        return out
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value + 1
    if isinstance(value, str):
        return value + "x"
    if isinstance(value, tuple):
        return (*value, 1)
    if isinstance(value, dict):
        return {**value, "extra": 1}
    raise TypeError(type(value))


def _leaves(obj, path=()):
    """(owner, field name) of every non-record field in a dataclass tree."""
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            yield from _leaves(value, (*path, f.name))
        elif isinstance(value, list):
            for item in value:
                yield from _leaves(item, (*path, f.name))
        else:
            yield obj, f.name


@pytest.mark.parametrize("make", [_loihi, _akida], ids=["loihi", "akida"])
def test_changing_any_field_changes_the_digest(make):
    net = make()
    before = net.digest()
    assert before == make().digest()
    leaves = list(_leaves(net))
    assert len(leaves) > 10
    for owner, name in leaves:
        old = getattr(owner, name)
        if isinstance(old, np.ndarray) and old.size == 0:
            continue
        object.__setattr__(owner, name, _changed(old))
        assert net.digest() != before, f"{type(owner).__name__}.{name} is not in the digest"
        object.__setattr__(owner, name, old)
        assert net.digest() == before


def test_an_added_field_changes_the_digest():
    net = _loihi()

    @dataclasses.dataclass
    class WithDelay(LoihiLayer):
        delay: int = 0

    layer = net.layers[0]
    fields = {f.name: getattr(layer, f.name) for f in dataclasses.fields(LoihiLayer)}
    plain = digest(net)
    net.layers[0] = WithDelay(**fields)
    with_field = digest(net)
    net.layers[0].delay = 3
    assert len({plain, with_field, digest(net)}) == 3


def test_array_dtype_and_shape_are_in_the_digest():
    net = _akida()
    before = net.digest()
    layer = net.layers[0]
    layer.act_step = layer.act_step.astype(np.float64)
    assert net.digest() != before
