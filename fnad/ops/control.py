"""Structured control flow: ``cond``, ``scan`` and ``while`` hold closed sub-graphs.

A loop stays one node however many times it runs, so graphs and compile times do not grow
with trip counts. Every value a body reads from outside is an explicit operand ("consts"),
which is how derivatives with respect to closed-over values flow.

* ``cond(index, *ops; branches)``: ``branches[index](*ops)``, index clamped.
* ``scan(*consts, *init, *xs; body, length, reverse, num_consts, num_carry)``:
  ``body(*consts, *carry, *x_i) -> (*carry, *y_i)``; outputs the final carry and the
  stacked ``y``.
* ``while(*cond_consts, *body_consts, *init; cond, body, num_cond_consts)``: runs
  ``body(*body_consts, *carry)`` while ``cond(*cond_consts, *carry)``.

Reverse mode through ``scan`` keeps a tape of the carries (a second scan) and runs the
body's VJP backwards over it. Through ``while`` the trip count is unknown until run time,
so ``while_grad`` runs the loop recording its carries on a growable tape, then walks it
backwards: one node, no limit on the number of iterations.
"""

from __future__ import annotations

import numpy as np

from fnad.core.graph import Graph
from fnad.core.primitive import PRIMITIVES, Primitive, register
from fnad.core.spec import ArraySpec, is_float
from fnad.core.trace import bind, eval_graph, trace_graph
from fnad.ops.elementwise import convert, select
from fnad.ops.shape import batch_all, broadcast_to, moveaxis, reshape


def _zeros(xs) -> list:
    return [np.zeros_like(x) for x in xs]


def _filled(ts, xs) -> list:
    return [np.zeros_like(x) if t is None else t for t, x in zip(ts, xs)]


def _check_specs(what: str, got: tuple, want: tuple) -> None:
    if tuple(got) != tuple(want):
        raise TypeError(f"fnad: {what}: expected {list(want)}, got {list(got)}")


def _batched_graph(graph: Graph, specs: list[ArraySpec], flags: list[bool], size: int) -> Graph:
    """``graph`` batched along a new first axis where ``flags``; every output batched."""
    from fnad.transforms.vmap import vmap_pass

    def run(*xs):
        outs, out_flags = vmap_pass(graph, xs, flags, size)
        return batch_all(outs, out_flags, size)

    batched = [ArraySpec((size, *s.shape), s.dtype) if f else s for s, f in zip(specs, flags)]
    return trace_graph(run, batched)


# --- cond -------------------------------------------------------------------------------


def _cond_abstract(index: ArraySpec, *ops: ArraySpec, branches: tuple[Graph, ...]):
    if index.shape != () or index.dtype.kind not in "iub":
        raise TypeError(f"fnad.cond: the predicate/index must be a scalar integer, got {index!r}")
    for k, branch in enumerate(branches):
        _check_specs(f"cond branch {k} inputs", ops, branch.in_specs)
        _check_specs(
            f"cond branch {k} returns a different structure than branch 0",
            branch.out_specs,
            branches[0].out_specs,
        )
    return branches[0].out_specs


def _cond_impl(index, *ops, branches):
    k = int(np.clip(np.asarray(index), 0, len(branches) - 1))
    return tuple(np.asarray(v) for v in eval_graph(branches[k], *ops))


def _cond_jvp(ts, index, *ops, outs, branches):
    from fnad.transforms.jvp import jvp_graph

    n = len(outs)
    new = tuple(jvp_graph(b) for b in branches)
    res = bind(cond_p, index, *ops, *_filled(ts[1:], ops), branches=new)
    return tuple(res[n:])


def _cond_vjp(cts, index, *ops, outs, branches):
    from fnad.transforms.vjp import vjp_graph

    n = len(outs)
    new = tuple(vjp_graph(b) for b in branches)
    res = bind(cond_p, index, *ops, *_filled(cts, outs), branches=new)
    return (None, *(ct if is_float(x.dtype) else None for ct, x in zip(res[n:], ops)))


def _cond_batch(xs, batched, size, *, branches):
    index, *ops = xs
    specs = [
        ArraySpec(np.shape(o)[1:] if b else np.shape(o), np.result_type(o))
        for o, b in zip(ops, batched[1:])
    ]
    graphs = tuple(_batched_graph(br, specs, list(batched[1:]), size) for br in branches)
    if not batched[0]:
        return bind(cond_p, index, *ops, branches=graphs)
    # NOTE: a batched predicate runs every branch and selects per example.
    k = np.clip(index, 0, len(branches) - 1)
    results = [eval_graph(g, *ops) for g in graphs]
    outs = list(results[0])
    for j in range(1, len(graphs)):
        for i, (cur, new) in enumerate(zip(outs, results[j])):
            pick = reshape(k == j, (size, *(1,) * (np.ndim(new) - 1)))
            outs[i] = select(broadcast_to(pick, np.shape(new)), new, cur)
    return tuple(outs)


def _cond_cases(rng):
    spec = ArraySpec((3,), np.dtype(np.float64))
    sin = trace_graph(lambda x, y: [np.sin(x) * y], [spec, spec])
    cos = trace_graph(lambda x, y: [np.cos(y) + x], [spec, spec])
    args = (rng.normal(size=3), rng.normal(size=3))
    return [((np.array(k), *args), {"branches": (sin, cos)}) for k in (0, 1)]


cond_p = register(
    Primitive(
        "cond",
        impl=_cond_impl,
        abstract=_cond_abstract,
        vjp=_cond_vjp,
        jvp=_cond_jvp,
        batch=_cond_batch,
        cases=_cond_cases,
        multiple_results=True,
    )
)


# --- scan -------------------------------------------------------------------------------


def _scan_split(xs, num_consts: int, num_carry: int):
    return xs[:num_consts], xs[num_consts : num_consts + num_carry], xs[num_consts + num_carry :]


def _scan_abstract(*specs: ArraySpec, body, length, reverse, num_consts, num_carry):
    consts, carry, xs = _scan_split(specs, num_consts, num_carry)
    for x in xs:
        if not x.shape or x.shape[0] != length:
            raise ValueError(f"fnad.scan: every xs must have leading axis {length}, got {x!r}")
    slices = [ArraySpec(x.shape[1:], x.dtype) for x in xs]
    _check_specs("scan body inputs", (*consts, *carry, *slices), body.in_specs)
    outs = body.out_specs
    _check_specs("scan body must return the carry it takes", outs[:num_carry], carry)
    return (*carry, *(ArraySpec((length, *y.shape), y.dtype) for y in outs[num_carry:]))


def _scan_impl(*args, body, length, reverse, num_consts, num_carry):
    consts, carry, xs = _scan_split(args, num_consts, num_carry)
    ys_specs = body.out_specs[num_carry:]
    ys = [np.empty((length, *s.shape), s.dtype) for s in ys_specs]
    for step in range(length):
        i = length - 1 - step if reverse else step
        outs = eval_graph(body, *consts, *carry, *(x[i] for x in xs))
        carry = outs[:num_carry]
        for y, v in zip(ys, outs[num_carry:]):
            y[i] = v
    return (*(np.asarray(c) for c in carry), *ys)


def scan_call(consts, init, xs, body, length, reverse=False) -> tuple:
    return bind(
        scan_p,
        *consts,
        *init,
        *xs,
        body=body,
        length=length,
        reverse=reverse,
        num_consts=len(consts),
        num_carry=len(init),
    )


def _reordered(graph: Graph, groups: list[int], order: list[int]) -> Graph:
    """``graph`` with its input groups (sizes ``groups``) taken in ``order``."""
    starts = np.cumsum([0, *groups])
    spans = [list(range(starts[g], starts[g + 1])) for g in range(len(groups))]
    perm = [i for g in order for i in spans[g]]
    specs = [graph.in_specs[i] for i in perm]

    def run(*xs):
        args = [None] * len(xs)
        for pos, i in enumerate(perm):
            args[i] = xs[pos]
        return eval_graph(graph, *args)

    return trace_graph(run, specs)


def _cut(seq, sizes: list[int]) -> list[list]:
    """``seq`` cut into consecutive groups of the given sizes."""
    out, start = [], 0
    for n in sizes:
        out.append(list(seq[start : start + n]))
        start += n
    return out


def _scan_jvp(ts, *args, outs, body, length, reverse, num_consts, num_carry):
    from fnad.transforms.jvp import jvp_graph

    nc, nk = num_consts, num_carry
    nx, ny = len(args) - nc - nk, len(outs) - nk
    inner = jvp_graph(body)  # (c, k, x, tc, tk, tx) -> (k, y, tk, ty)

    def step(*a):
        c, tc, k, tk, x, tx = _cut(a, [nc, nc, nk, nk, nx, nx])
        k2, y, tk2, ty = _cut(eval_graph(inner, *c, *k, *x, *tc, *tk, *tx), [nk, ny, nk, ny])
        return [*k2, *tk2, *y, *ty]

    c, k, x = _cut(body.in_specs, [nc, nk, nx])
    step_graph = trace_graph(step, [*c, *c, *k, *k, *x, *x])
    consts, carry, xs = _scan_split(args, nc, nk)
    t_consts, t_carry, t_xs = _scan_split(_filled(ts, args), nc, nk)
    res = scan_call(
        [*consts, *t_consts], [*carry, *t_carry], [*xs, *t_xs], step_graph, length, reverse
    )
    _, t_final, _, t_ys = _cut(res, [nk, nk, ny, ny])
    return (*t_final, *t_ys)


def _scan_vjp(cts, *args, outs, body, length, reverse, num_consts, num_carry):
    from fnad.transforms.partial import position, split_known
    from fnad.transforms.vjp import vjp_graph

    nc, nk = num_consts, num_carry
    consts, carry, xs = _scan_split(args, nc, nk)
    nx, ny = len(xs), len(outs) - nk
    n_in = nc + nk + nx
    back = vjp_graph(body)  # (c, k, x, ct_k, ct_y) -> (k, y, ct_c, ct_k, ct_x)
    # NOTE: what depends on the primal values alone runs in the forward loop, which stacks
    # the residuals the backward loop needs: the body is not run twice. Consts and xs are
    # read where they are; only values made inside the body are stacked.
    split = split_known(
        back, [True] * n_in + [False] * (nk + ny), [True] * (nk + ny) + [False] * n_in
    )
    c_in, _, x_in = _cut(back.inputs[:n_in], [nc, nk, nx])
    stacked = [
        r for r in split.residuals if position(r, c_in) is None and position(r, x_in) is None
    ]
    slot = {id(r): i for i, r in enumerate(stacked)}

    def taped(*a):  # the body, also emitting this step's residuals
        res = eval_graph(split.known, *a)
        by = dict(zip((id(r) for r in split.residuals), res[nk + ny :]))
        return [*res[: nk + ny], *(by[id(r)] for r in stacked)]

    fwd = scan_call(consts, carry, xs, trace_graph(taped, body.in_specs), length, reverse)
    tape = fwd[nk + ny :]

    def step(*a):
        c, ct_k, acc, t, x, ct_y = _cut(a, [nc, nk, nc, len(stacked), nx, ny])
        vals = []
        for r in split.residuals:
            i, j = position(r, c_in), position(r, x_in)
            vals.append(c[i] if i is not None else x[j] if j is not None else t[slot[id(r)]])
        ct_c, ct_prev, ct_x = _cut(eval_graph(split.unknown, *vals, *ct_k, *ct_y), [nc, nk, nx])
        return [*ct_prev, *(u + v for u, v in zip(acc, ct_c)), *ct_x]

    c_specs, k_specs, x_specs = _cut(body.in_specs, [nc, nk, nx])
    y_specs = body.out_specs[nk:]
    t_specs = [r.spec for r in stacked]
    step_graph = trace_graph(step, [*c_specs, *k_specs, *c_specs, *t_specs, *x_specs, *y_specs])
    cts = _filled(cts, outs)
    init = [*cts[:nk], *_zeros(consts)]
    res = scan_call(consts, init, [*tape, *xs, *cts[nk:]], step_graph, length, not reverse)
    ct_init, ct_consts, ct_xs = _cut(res, [nk, nc, nx])
    grads = [*ct_consts, *ct_init, *ct_xs]
    return tuple(ct if is_float(a.dtype) else None for ct, a in zip(grads, args))


def _scan_batch(xs, batched, size, *, body, length, reverse, num_consts, num_carry):
    nc, nk = num_consts, num_carry
    consts, carry, seqs = _scan_split(list(xs), nc, nk)
    c_flags, _, x_flags = _scan_split(list(batched), nc, nk)
    # NOTE: the carry is batched whenever anything is, so its type is a loop invariant.
    carry = batch_all(carry, batched[nc : nc + nk], size)
    seqs = [moveaxis(x, 0, 1) if b else x for x, b in zip(seqs, x_flags)]
    flags = [*c_flags, *[True] * nk, *x_flags]
    graph = _batched_graph(body, list(body.in_specs), flags, size)
    res = scan_call(consts, carry, seqs, graph, length, reverse)
    return (*res[:nk], *(moveaxis(y, 1, 0) for y in res[nk:]))


def _scan_cases(rng):
    f64 = np.dtype(np.float64)
    s, v = ArraySpec((), f64), ArraySpec((2,), f64)
    body = trace_graph(lambda w, h, x: [np.tanh(w * h + x), np.sum(h * x)], [s, v, v])
    args = (np.array(0.7), rng.normal(size=2), rng.normal(size=(4, 2)))
    params = {"body": body, "length": 4, "num_consts": 1, "num_carry": 1}
    return [(args, {**params, "reverse": r}) for r in (False, True)]


scan_p = register(
    Primitive(
        "scan",
        impl=_scan_impl,
        abstract=_scan_abstract,
        vjp=_scan_vjp,
        jvp=_scan_jvp,
        batch=_scan_batch,
        cases=_scan_cases,
        multiple_results=True,
    )
)


# --- while ------------------------------------------------------------------------------


def _while_split(xs, cond, body):
    nc, nb = len(cond.inputs) - len(body.outputs), len(body.inputs) - len(body.outputs)
    return xs[:nc], xs[nc : nc + nb], xs[nc + nb :]


def _while_abstract(*specs: ArraySpec, cond: Graph, body: Graph):
    c_consts, b_consts, carry = _while_split(specs, cond, body)
    _check_specs("while_loop cond inputs", (*c_consts, *carry), cond.in_specs)
    _check_specs("while_loop body inputs", (*b_consts, *carry), body.in_specs)
    _check_specs("while_loop body must return the carry it takes", body.out_specs, carry)
    (pred,) = cond.out_specs
    if pred.shape != () or pred.dtype != np.bool_:
        raise TypeError(f"fnad.while_loop: cond_fun must return a scalar bool, got {pred!r}")
    return tuple(carry)


def _while_impl(*xs, cond, body):
    c_consts, b_consts, carry = _while_split(xs, cond, body)
    while bool(eval_graph(cond, *c_consts, *carry)[0]):
        carry = eval_graph(body, *b_consts, *carry)
    return tuple(np.asarray(c) for c in carry)


def while_call(c_consts, b_consts, init, cond: Graph, body: Graph) -> tuple:
    return bind(while_p, *c_consts, *b_consts, *init, cond=cond, body=body)


def _while_jvp(ts, *xs, outs, cond, body):
    from fnad.transforms.jvp import jvp_graph

    c_consts, b_consts, carry = _while_split(xs, cond, body)
    _, tb, tk = _while_split(_filled(ts, xs), cond, body)
    nb, nk = len(b_consts), len(carry)
    inner = jvp_graph(body)  # (b, k, tb, tk) -> (k, tk)

    def step(*a):
        b, tb_, k, tk_ = _cut(a, [nb, nb, nk, nk])
        return eval_graph(inner, *b, *k, *tb_, *tk_)

    b_specs, k_specs = _cut(body.in_specs, [nb, nk])
    new_body = trace_graph(step, [*b_specs, *b_specs, *k_specs, *k_specs])
    new_cond = trace_graph(
        lambda *a: eval_graph(cond, *a[: len(cond.inputs)]),
        [*cond.in_specs, *k_specs],
    )
    res = while_call(c_consts, [*b_consts, *tb], [*carry, *tk], new_cond, new_body)
    return tuple(res[nk:])


def _while_vjp(cts, *xs, outs, cond, body):
    from fnad.transforms.vjp import vjp_graph

    c_consts, b_consts, carry = _while_split(xs, cond, body)
    res = bind(
        while_grad_p,
        *c_consts,
        *b_consts,
        *carry,
        *_filled(cts, outs),
        cond=cond,
        body=body,
        back=vjp_graph(body),
    )
    grads = [*(None for _ in c_consts), *res]
    return tuple(ct if is_float(a.dtype) else None for ct, a in zip(grads, xs))


def _masked_loop(cond, body, flags, size):
    """Batched ``(cond, body)`` graphs for a loop whose predicate may differ per example:
    the new loop runs while any example's does, and finished examples keep their carry.
    The new body takes the cond's consts before its own."""
    nc, nb = len(cond.inputs) - len(body.outputs), len(body.inputs) - len(body.outputs)
    nk = len(body.outputs)
    c_flags, b_flags = flags[:nc], flags[nc : nc + nb]
    k_specs = [ArraySpec((size, *s.shape), s.dtype) for s in body.out_specs]
    pred = _batched_graph(cond, list(cond.in_specs), [*c_flags, *[True] * nk], size)
    step = _batched_graph(body, list(body.in_specs), [*b_flags, *[True] * nk], size)
    c_specs, b_specs = pred.in_specs[:nc], step.in_specs[:nb]

    def any_lane(*a):
        (p,) = eval_graph(pred, *a)
        return [bind(PRIMITIVES["reduce_max"], convert(p, np.int8), axes=(0,)) > 0]

    def masked_step(*a):
        c, b, k = _cut(a, [nc, nb, nk])
        (p,) = eval_graph(pred, *c, *k)
        new = eval_graph(step, *b, *k)
        return [
            select(broadcast_to(reshape(p, (size, *(1,) * (np.ndim(v) - 1))), np.shape(v)), v, old)
            for v, old in zip(new, k)
        ]

    new_cond = trace_graph(any_lane, [*c_specs, *k_specs])
    return new_cond, trace_graph(masked_step, [*c_specs, *b_specs, *k_specs])


def _while_batch(xs, batched, size, *, cond, body):
    c_consts, b_consts, carry = _while_split(list(xs), cond, body)
    # NOTE: the carry is batched whenever anything is, so its type is a loop invariant.
    carry = batch_all(carry, batched[len(c_consts) + len(b_consts) :], size)
    new_cond, new_body = _masked_loop(cond, body, list(batched), size)
    return while_call(c_consts, [*c_consts, *b_consts], carry, new_cond, new_body)


def _while_cases(rng):
    f64 = np.dtype(np.float64)
    s, v = ArraySpec((), f64), ArraySpec((2,), f64)
    cond = trace_graph(lambda lim, x, n: [n < lim], [s, v, s])
    body = trace_graph(lambda w, x, n: [np.sin(x * w) + x, n + 1.0], [s, v, s])
    return [
        (
            (np.array(2.5), np.array(0.9), rng.normal(size=2), np.array(0.0)),
            {"cond": cond, "body": body},
        )
    ]


while_p = register(
    Primitive(
        "while",
        impl=_while_impl,
        abstract=_while_abstract,
        vjp=_while_vjp,
        jvp=_while_jvp,
        batch=_while_batch,
        cases=_while_cases,
        multiple_results=True,
        # NOTE: its VJP, while_grad, has no rules of its own: reverse mode is first order.
        tags={"max_reverse_order": 1},
    )
)


def _while_grad_abstract(*specs: ArraySpec, cond, body, back):
    n = len(body.outputs)
    _while_abstract(*specs[:-n], cond=cond, body=body)
    return tuple(body.in_specs)


def _while_grad_impl(*xs, cond, body, back):
    n = len(body.outputs)
    c_consts, b_consts, carry = _while_split(xs[:-n], cond, body)
    ct_k, tape = list(xs[-n:]), []
    while bool(eval_graph(cond, *c_consts, *carry)[0]):
        tape.append(carry)
        carry = eval_graph(body, *b_consts, *carry)
    ct_b = _zeros(b_consts)
    nb = len(b_consts)
    for k in reversed(tape):
        res = eval_graph(back, *b_consts, *k, *ct_k)  # -> (k, ct_b, ct_k)
        ct_b = [u + v for u, v in zip(ct_b, res[n : n + nb])]
        ct_k = res[n + nb :]
    return (*(np.asarray(c) for c in ct_b), *(np.asarray(c) for c in ct_k))


def _while_grad_batch(xs, batched, size, *, cond, body, back):
    from fnad.transforms.vjp import vjp_graph

    # NOTE: every operand batched: each example gets its own cotangent of shared consts.
    xs = batch_all(xs, batched, size)
    n = len(body.outputs)
    c_consts, b_consts, carry = _while_split(xs[:-n], cond, body)
    new_cond, new_body = _masked_loop(cond, body, [True] * (len(xs) - n), size)
    res = bind(
        while_grad_p,
        *c_consts,
        *c_consts,
        *b_consts,
        *carry,
        *xs[-n:],
        cond=new_cond,
        body=new_body,
        back=vjp_graph(new_body),
    )
    return tuple(res[len(c_consts) :])


while_grad_p = register(
    Primitive(
        "while_grad",
        impl=_while_grad_impl,
        abstract=_while_grad_abstract,
        batch=_while_grad_batch,
        cases=lambda rng: [
            ((*args, np.ones(2), np.array(1.0)), {**params, "back": _back(params["body"])})
            for args, params in _while_cases(rng)
        ],
        multiple_results=True,
        tags={"first_order_only": "reverse mode through a while_loop is one step deep"},
    )
)


def _back(body: Graph) -> Graph:
    from fnad.transforms.vjp import vjp_graph

    return vjp_graph(body)
