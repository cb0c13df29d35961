"""Property-based tests: config validation never crashes and always names what is wrong."""
import copy
import json
import re

from hypothesis import given, settings, strategies as st

from nnengine.activations import ACTIVATIONS
from nnengine.config import ConfigError, parse_config
from nnengine.optimizers import OPTIMIZERS

json_leaf = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12),
                      st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20))
json_value = st.recursive(json_leaf, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)), max_leaves=20)

layer = st.fixed_dictionaries({
    "units": st.integers(1, 2048),
    "activation": st.sampled_from(sorted(ACTIVATIONS)),
    "batch_norm": st.booleans(),
    "dropout": st.floats(0.0, 0.9),
})
conv_layer = st.fixed_dictionaries({
    "type": st.just("conv"),
    "filters": st.integers(1, 64),
    "kernel": st.integers(1, 7),
    "stride": st.integers(1, 4),
    "activation": st.sampled_from(sorted(ACTIVATIONS)),
    "batch_norm": st.booleans(),
    "dropout": st.floats(0.0, 0.9),
}).flatmap(lambda conv: st.integers(0, min(3, conv["kernel"] - 1)).map(lambda pad: {**conv, "pad": pad}))
pool_layer = st.fixed_dictionaries({"type": st.just("pool"), "size": st.integers(1, 7), "stride": st.integers(1, 7)})
maxout_layer = st.integers(1, 2048).flatmap(lambda units: st.fixed_dictionaries({
    "type": st.just("maxout"), "units": st.just(units), "pieces": st.integers(2, min(10, 4096 // units)),
    "dropout": st.floats(0.0, 0.9)}))
# conv and pool layers first, then dense ones (an explicit "type": "dense" or none) or maxout ones
typed_dense = layer.map(lambda d: {"type": "dense", **d})
image_layers = st.lists(st.one_of(conv_layer, pool_layer), max_size=4)
conv_hidden = st.tuples(image_layers, st.lists(st.one_of(layer, typed_dense, maxout_layer), max_size=2)).map(
    lambda p: p[0] + p[1])

valid_config = st.fixed_dictionaries({
    "seed": st.integers(0, 2**32 - 1),
    "data": st.fixed_dictionaries({"train_size": st.integers(1, 2000), "validation_size": st.integers(0, 1000),
                                   "test_size": st.one_of(st.none(), st.integers(0, 1000))}),
    "model": st.fixed_dictionaries({"hidden_layers": st.one_of(st.lists(st.one_of(layer, maxout_layer), max_size=3),
                                                              conv_hidden),
                                    "weight_init": st.sampled_from(["he", "xavier", "std"]),
                                    "weight_init_std": st.floats(1e-4, 1.0),
                                    "loss": st.sampled_from(["cross_entropy", "mean_squared_error",
                                                             "binary_cross_entropy"])},
                                   # absent in every config stored before these keys existed
                                   optional={"dropout_style": st.sampled_from(["inverted", "book"]),
                                             "batch_norm_eps": st.floats(1e-8, 1.0)}),
    "optimizer": st.sampled_from(sorted(OPTIMIZERS)).map(lambda name: {"name": name}),
    "training": st.fixed_dictionaries({"epochs": st.integers(1, 20), "batch_size": st.integers(1, 500),
                                       "weight_decay": st.floats(0.0, 10.0)}),
})


def assert_clear_errors(error: ConfigError):
    assert error.errors
    for item in error.errors:
        assert isinstance(item["field"], str) and item["field"]
        assert isinstance(item["message"], str) and item["message"]
    assert "\n" not in str(error)


@settings(max_examples=300, deadline=None)
@given(json_value)
def test_any_json_value_is_accepted_or_refused_clearly(obj):
    try:
        parse_config(obj)
    except ConfigError as error:
        assert_clear_errors(error)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["seed", "data", "model", "optimizer", "training"]), json_value))
def test_any_sections_are_accepted_or_refused_clearly(obj):
    try:
        parse_config(obj)
    except ConfigError as error:
        assert_clear_errors(error)


@settings(max_examples=200, deadline=None)
@given(valid_config)
def test_valid_configs_round_trip_through_json(obj):
    try:
        config = parse_config(obj)
    except ConfigError as error:
        # only the pool size, the compute budget, the memory limits or a window larger than its input
        # (conv/pool layers shrink the image) may refuse these
        for e in error.errors:
            assert e["field"] in {"training.epochs", "training.batch_size", "model.hidden_layers"} \
                or re.fullmatch(r"model\.hidden_layers\[\d\]\.(kernel|size)", e["field"]), e
            if e["field"].endswith((".kernel", ".size")):
                assert "does not fit" in e["message"] and "allowed: at most" in e["message"]
        return
    doc = config.to_dict()
    assert parse_config(json.loads(json.dumps(doc))) == config
    # a missing key means what configs meant before it existed
    assert doc["model"]["dropout_style"] == obj["model"].get("dropout_style", "inverted")
    assert doc["model"]["batch_norm_eps"] == obj["model"].get("batch_norm_eps", 1e-5)
    for given, canonical in zip(obj["model"]["hidden_layers"], doc["model"]["hidden_layers"]):
        assert canonical.get("type", "dense") == given.get("type", "dense")
        assert ("type" in canonical) == (given.get("type", "dense") != "dense")   # dense layers: the old form
        assert {k: v for k, v in given.items() if k != "type"} == {k: v for k, v in canonical.items() if k != "type"}


@settings(max_examples=150, deadline=None)
@given(valid_config.filter(lambda c: any(l.get("type") in ("conv", "pool") for l in c["model"]["hidden_layers"])),
       st.sampled_from(["filters", "kernel", "stride", "pad", "size", "type", "units"]),
       st.one_of(st.text(max_size=5), st.floats(allow_nan=True), st.integers(-10**9, 10**9), st.none(),
                 st.booleans()))
def test_a_tampered_conv_or_pool_field_is_named(obj, key, junk):
    index = next(i for i, l in enumerate(obj["model"]["hidden_layers"]) if l.get("type") in ("conv", "pool"))
    before = _errors(obj)
    obj["model"]["hidden_layers"][index][key] = junk
    path = f"model.hidden_layers[{index}]"
    new = [e for e in _errors(obj) if e not in before]
    for e in new:
        assert e["field"] and e["message"] and "\n" not in e["message"]
        # the tampered layer, a later window that no longer fits, or the run's size limits
        assert e["field"].startswith(path) or e["field"] in ("training.epochs", "training.batch_size",
                                                             "model.hidden_layers") \
            or re.fullmatch(r"model\.hidden_layers\[\d\]\.(kernel|size)", e["field"]), e
    if key == "units" or (key != "type" and (junk is None or isinstance(junk, (str, bool)))):
        # never a valid value there (units is no key of a conv or pool layer)
        assert f"{path}.{key}" in {e["field"] for e in new}, new


@settings(max_examples=200, deadline=None)
@given(valid_config, st.sampled_from([("training", "epochs"), ("training", "batch_size"), ("data", "train_size"),
                                      ("seed", None), ("model", "weight_init"), ("training", "weight_decay"),
                                      ("model", "dropout_style"), ("model", "batch_norm_eps")]),
       st.one_of(st.text(max_size=5), st.floats(allow_nan=True), st.integers(-10**9, -1), st.none(),
                 st.lists(st.integers(), max_size=2)))
def test_a_tampered_field_is_named(obj, where, junk):
    section, key = where
    before = _errors(obj)   # e.g. a generated conv layer whose window does not fit: not the tampering's doing
    if key is None:
        obj[section] = junk
        field = section
    else:
        obj[section][key] = junk
        field = f"{section}.{key}"
    try:
        parse_config(obj)
    except ConfigError as error:
        assert_clear_errors(error)
        new = [e for e in error.errors if e not in before]
        # junk that happens to be valid (e.g. null test size) adds no error
        assert not new or any(e["field"] in (field, section) for e in new), error.errors
    else:  # junk that happens to be valid (e.g. null test size) is fine
        pass


def _errors(obj) -> list[dict]:
    try:
        parse_config(copy.deepcopy(obj))
    except ConfigError as error:
        return error.errors
    return []
