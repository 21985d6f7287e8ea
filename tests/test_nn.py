"""fnad.nn: layers, activations, losses and initializers against NumPy references written
here, gradients against finite differences, and one jitted training step against the
interpreter."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special

import fnad
from fnad import nn
from fnad.tree import tree_leaves

RNG = np.random.default_rng(0)


# ---- references ------------------------------------------------------------------------------


def same_pads(size, k, s):
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2


def pad_nhwc(x, kernel, strides, padding, value):
    if padding == "valid":
        return x
    (t, b), (l, r) = (same_pads(x.shape[1 + a], kernel[a], strides[a]) for a in (0, 1))
    return np.pad(x, ((0, 0), (t, b), (l, r), (0, 0)), constant_values=value)


def conv_ref(x, w, b, stride, padding):
    """The convolution as the textbook loop over every output element."""
    kh, kw, _, f = w.shape
    xp = pad_nhwc(x, (kh, kw), (stride, stride), padding, 0.0)
    n, h, wd, _ = xp.shape
    oh, ow = (h - kh) // stride + 1, (wd - kw) // stride + 1
    out = np.zeros((n, oh, ow, f))
    for i in range(oh):
        for j in range(ow):
            window = xp[:, i * stride : i * stride + kh, j * stride : j * stride + kw, :]
            for o in range(f):
                out[:, i, j, o] = np.sum(window * w[:, :, :, o], axis=(1, 2, 3)) + b[o]
    return out


def pool_ref(x, size, stride, padding, reduce):
    xp = pad_nhwc(x, (size, size), (stride, stride), padding, np.nan)
    n, h, w, c = xp.shape
    oh, ow = (h - size) // stride + 1, (w - size) // stride + 1
    out = np.zeros((n, oh, ow, c))
    for i in range(oh):
        for j in range(ow):
            window = xp[:, i * stride : i * stride + size, j * stride : j * stride + size, :]
            out[:, i, j, :] = reduce(window, axis=(1, 2))
    return out


def numeric_grad(f, x, eps=1e-6):
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        d = np.zeros_like(x)
        d[i] = eps
        g[i] = (f(x + d) - f(x - d)) / (2 * eps)
    return g


# ---- activations, initializers, losses -------------------------------------------------------


def test_activations_match_numpy_and_are_stable():
    x = np.array([[-1000.0, -3.0, -0.5, 0.0, 0.7, 4.0, 1000.0]])
    with np.errstate(over="ignore"):
        assert np.allclose(nn.sigmoid(x), 1 / (1 + np.exp(-x)))
    assert np.allclose(nn.relu(x), np.where(x > 0, x, 0))
    assert np.allclose(nn.leaky_relu(x), np.where(x > 0, x, 0.01 * x))
    assert np.allclose(nn.tanh(x), np.tanh(x))
    exact = 0.5 * x * (1 + special.erf(x / np.sqrt(2)))
    assert np.allclose(nn.gelu(x), exact, atol=1e-3)
    z = x - x.max()
    ref = z - np.log(np.sum(np.exp(z)))
    assert np.allclose(nn.log_softmax(x), ref) and np.all(np.isfinite(nn.log_softmax(x)))
    assert np.allclose(nn.softmax(x), np.exp(ref))
    assert np.allclose(nn.softmax(x.T, axis=0), np.exp(ref).T)


def test_activation_gradients_match_finite_differences():
    x = np.array([-2.0, -0.3, 0.4, 1.5])
    for name in ("relu", "leaky_relu", "sigmoid", "tanh", "gelu", "softmax", "log_softmax"):
        act = nn.activations.get(name)

        def f(v, act=act):
            return np.sum(act(v) * np.arange(1.0, 5.0))

        assert np.allclose(fnad.grad(f)(x), numeric_grad(f, x), atol=1e-6), name


def test_unknown_activation_lists_the_valid_ones():
    with pytest.raises(ValueError, match="unknown activation 'swish'.*gelu.*relu"):
        nn.Dense(3, activation="swish")


def test_initializers_have_the_documented_scale():
    rng = np.random.default_rng(1)
    w = nn.init.glorot_uniform(rng, (300, 200))
    assert np.abs(w).max() <= np.sqrt(6 / 500) and w.std() == pytest.approx(np.sqrt(2 / 500), 0.05)
    assert nn.init.glorot_normal(rng, (300, 200)).std() == pytest.approx(np.sqrt(2 / 500), 0.05)
    assert np.abs(nn.init.he_uniform(rng, (300, 200))).max() <= np.sqrt(6 / 300)
    conv = nn.init.he_normal(rng, (3, 3, 40, 50), np.float32)
    assert conv.dtype == np.float32 and conv.std() == pytest.approx(np.sqrt(2 / 360), 0.05)
    with pytest.raises(ValueError, match="unknown initializer 'lecun'"):
        nn.init.get("lecun")


def test_softmax_cross_entropy_integer_and_one_hot_labels():
    logits = RNG.normal(size=(5, 4)) * 3
    labels = np.array([0, 3, 1, 1, 2])
    z = logits - logits.max(axis=1, keepdims=True)
    ref = np.mean(np.log(np.exp(z).sum(axis=1)) - z[np.arange(5), labels])
    assert nn.softmax_cross_entropy(logits, labels) == pytest.approx(ref)
    assert nn.softmax_cross_entropy(logits, np.eye(4)[labels]) == pytest.approx(ref)
    # stable from logits: a confident right answer costs ~0, not nan
    assert nn.softmax_cross_entropy(np.array([[1000.0, 0.0]]), np.array([0])) == 0.0
    grad = fnad.grad(nn.softmax_cross_entropy)(logits, labels)
    assert np.allclose(grad, (np.exp(z) / np.exp(z).sum(1, keepdims=True) - np.eye(4)[labels]) / 5)
    with pytest.raises(ValueError, match=r"integer labels must have shape.*\(5,\), got \(5, 1\)"):
        nn.softmax_cross_entropy(logits, labels[:, None])
    with pytest.raises(ValueError, match="one-hot"):
        nn.softmax_cross_entropy(logits, np.ones((5, 3)))


def test_binary_cross_entropy_and_mse():
    z = np.array([-30.0, -1.0, 0.5, 2.0])
    y = np.array([0.0, 1.0, 1.0, 0.0])
    p = 1 / (1 + np.exp(-z))
    ref = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    assert nn.binary_cross_entropy(p, y) == pytest.approx(ref)
    assert nn.binary_cross_entropy(z, y, from_logits=True) == pytest.approx(ref)
    assert np.isfinite(nn.binary_cross_entropy(np.array([1000.0]), np.zeros(1), from_logits=True))
    assert nn.mse(z, y) == pytest.approx(np.mean((z - y) ** 2))
    with pytest.raises(ValueError, match=r"same shape, got \(4,\) and \(3,\)"):
        nn.mse(z, y[:3])


# ---- layers against references ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("stride", "padding"), [(1, "valid"), (1, "same"), (2, "same"), (2, "valid")]
)
def test_conv2d_matches_the_loop(stride, padding):
    layer = nn.Conv2D(3, (3, 2), strides=stride, padding=padding)
    layer_sq = nn.Conv2D(3, 3, strides=stride, padding=padding)
    x = RNG.normal(size=(2, 7, 6, 2))
    for conv in (layer, layer_sq):
        params = {**conv.init(0, (None, 7, 6, 2)), "b": RNG.normal(size=3)}
        out = conv.apply(params, x)
        assert out.shape == (2, *conv.output_shape((None, 7, 6, 2))[1:])
        assert np.allclose(out, conv_ref(x, params["w"], params["b"], stride, padding))
    assert layer.init(0, (None, 7, 6, 2))["w"].shape == (3, 2, 2, 3)


@pytest.mark.parametrize(
    ("size", "stride", "padding"), [(2, 2, "valid"), (3, 2, "same"), (2, 1, "valid")]
)
def test_pooling_matches_the_loop(size, stride, padding):
    x = RNG.normal(size=(2, 5, 6, 3))
    for layer, reduce in ((nn.MaxPool2D, np.nanmax), (nn.AvgPool2D, np.nanmean)):
        pool = layer(size, strides=stride, padding=padding)
        out = pool.apply({}, x)
        assert out.shape[1:] == pool.output_shape((None, 5, 6, 3))[1:]
        assert np.allclose(out, pool_ref(x, size, stride, padding, reduce)), layer.__name__


def test_dense_flatten_layernorm_embedding():
    x = RNG.normal(size=(3, 2, 4))
    model = nn.Sequential([nn.Flatten(), nn.Dense(5, activation="tanh"), nn.LayerNorm()])
    params = model.init(np.random.default_rng(3), (None, 2, 4))
    params[2] = {"scale": RNG.normal(size=5), "shift": RNG.normal(size=5)}
    h = np.tanh(x.reshape(3, 8) @ params[1]["w"] + params[1]["b"])
    norm = (h - h.mean(-1, keepdims=True)) / np.sqrt(h.var(-1, keepdims=True) + 1e-5)
    assert np.allclose(model.apply(params, x), norm * params[2]["scale"] + params[2]["shift"])
    emb = nn.Embedding(7, 3)
    table = emb.init(0, (None, 4))["table"]
    ids = np.array([[0, 6, 2, 2], [5, 1, 0, 3]])
    assert np.array_equal(emb.apply({"table": table}, ids), table[ids])
    assert emb.output_shape((None, 4)) == (None, 4, 3)


def test_dropout_is_off_at_inference_and_keyed_in_training():
    drop, x = nn.Dropout(0.25), np.ones((200, 50))
    assert drop.apply({}, x) is x
    out = drop.apply({}, x, key=7, training=True)
    assert set(np.unique(out)) == {0.0, 1 / 0.75}
    assert np.mean(out == 0) == pytest.approx(0.25, abs=0.02)
    assert np.array_equal(out, drop.apply({}, x, key=np.uint64(7), training=True))
    assert not np.array_equal(out, drop.apply({}, x, key=8, training=True))
    with pytest.raises(ValueError, match="needs a random key"):
        drop.apply({}, x, training=True)


def test_bad_inputs_are_named():
    model = nn.Sequential([nn.Conv2D(2, 3), nn.Flatten(), nn.Dense(2)])
    with pytest.raises(
        ValueError,
        match=r"Conv2D: expected an NHWC input shape of rank 4, got shape \(None, 8, 8\)",
    ):
        model.init(0, (None, 8, 8))
    with pytest.raises(ValueError, match="None only for the batch"):
        nn.Dense(2).init(0, (4, None))
    with pytest.raises(TypeError, match="seed must be an int"):
        nn.Dense(2).init("zero", (None, 3))
    with pytest.raises(ValueError, match="units must be a positive int"):
        nn.Dense(0)
    with pytest.raises(ValueError, match="padding must be 'valid' or 'same'"):
        nn.Conv2D(2, 3, padding="full")
    with pytest.raises(ValueError, match="window 3 is larger than the input size 2"):
        nn.Conv2D(2, 3).init(0, (None, 2, 5, 1))
    with pytest.raises(ValueError, match=r"Dense: .* expect inputs with 4 features .* \(5, 3\)"):
        nn.Dense(2).apply(nn.Dense(2).init(0, (None, 4)), np.zeros((5, 3)))
    conv = nn.Conv2D(2, 3)
    with pytest.raises(ValueError, match=r"Conv2D: .* expect inputs with 2 features"):
        fnad.jit(conv.apply)(conv.init(0, (None, 4, 4, 2)), np.zeros((1, 4, 4, 3)))
    with pytest.raises(ValueError, match="list of 3 layer parameter dicts"):
        model.apply([{}], np.zeros((1, 8, 8, 1)))
    with pytest.raises(TypeError, match=r"layers\[1\] must be a fnad.nn layer"):
        nn.Sequential([nn.Dense(2), np.tanh])
    with pytest.raises(TypeError, match="indices must be integers"):
        nn.Embedding(3, 2).apply({"table": np.zeros((3, 2))}, np.zeros(2))


# ---- gradients, graphs and jit -----------------------------------------------------------------


def small_model():
    return nn.Sequential(
        [
            nn.Conv2D(2, 3, strides=2, padding="same", activation="gelu"),
            nn.MaxPool2D(2, strides=1),
            nn.AvgPool2D(2, padding="same"),
            nn.Flatten(),
            nn.LayerNorm(),
            nn.Dense(3),
        ]
    )


def test_model_gradients_match_finite_differences():
    model = small_model()
    params = model.init(0, (None, 5, 5, 2))
    x, y = RNG.normal(size=(2, 5, 5, 2)), np.array([2, 0])

    def loss(p, x):
        return nn.softmax_cross_entropy(model.apply(p, x), y)

    gp, gx = fnad.grad(loss, argnums=(0, 1))(params, x)
    for i, key in ((0, "w"), (5, "w"), (4, "scale")):

        def f(v, i=i, key=key):
            p = [dict(d) for d in params]
            p[i][key] = v
            return loss(p, x)

        assert np.allclose(gp[i][key], numeric_grad(f, params[i][key]), atol=1e-6), (i, key)
    assert np.allclose(gx, numeric_grad(lambda v: loss(params, v), x), atol=1e-6)


def test_make_graph_of_a_sequential_model():
    model = small_model()
    params = model.init(0, (None, 5, 5, 2))
    graph = fnad.make_graph(model.apply)(params, np.zeros((4, 5, 5, 2)))
    fnad.verify(graph)
    prims = {node.prim.name for node in graph.nodes}
    assert {"gather", "einsum", "reduce_max", "tanh"} <= prims
    assert graph.outputs[0].spec.shape == (4, 3)


def test_jitted_train_step_matches_the_interpreter():
    """Conv, pooling, LayerNorm, Dropout and Embedding in one free-form model, one compile."""
    conv, embed = small_model(), nn.Sequential([nn.Embedding(6, 3), nn.Flatten(), nn.Dropout(0.5)])
    params = {"conv": conv.init(1, (None, 5, 5, 2)), "embed": embed.init(2, (None, 2))}
    head = nn.Dense(3)
    params["head"] = head.init(3, (None, 9))
    opt = fnad.optim.adam(0.01)

    def loss(p, x, ids, y, key):
        feats = np.concatenate(
            [conv.apply(p["conv"], x), embed.apply(p["embed"], ids, key=key, training=True)], 1
        )
        return nn.softmax_cross_entropy(head.apply(p["head"], feats), y)

    def step(p, state, x, ids, y, key):
        value, grads = fnad.value_and_grad(loss)(p, x, ids, y, key)
        p, state = opt.update(grads, state, p)
        return p, state, value

    args = (RNG.normal(size=(3, 5, 5, 2)), np.array([[0, 5], [2, 2], [1, 4]]), np.array([0, 2, 1]))
    jitted, state = fnad.jit(step), opt.init(params)
    compiled = jitted(params, state, *args, np.uint64(5))
    with fnad.disable_jit():
        interpreted = jitted(params, state, *args, np.uint64(5))
    for a, b in zip(tree_leaves(compiled), tree_leaves(interpreted)):
        assert np.allclose(a, b, rtol=1e-10, atol=1e-12)
    # a new key is a new dropout mask from the same trace and compiled code
    other = jitted(params, state, *args, np.uint64(6))
    assert (jitted.trace_count, jitted.compile_count) == (1, 1)
    assert not np.allclose(other[2], compiled[2])
