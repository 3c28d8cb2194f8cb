"""Reads the fixture tests/Dien.Tests/Interop/ParityTests.cs writes (the .NET results for one fixed batch per
variant, float64) and reports, per variant, the largest relative difference of the Python side's logits, losses,
gradients and after-step state, and whether the state-dict keys, shapes and options.json values agree.

    python tests/parity.py fixture.json report.json
"""

import json
import sys

import torch

from dien import CtrModelOptions, build_model
from dien.batch import Batch


def tensor(entry, dtype=torch.float64):
    return torch.tensor(entry["values"], dtype=dtype).reshape(entry["shape"])


def batch_of(a):
    b, t = a["Size"], a["Width"]

    def ids(name, shape):
        return None if a.get(name) is None else torch.tensor(a[name], dtype=torch.long).reshape(shape)

    return Batch(
        user_ids=ids("UserIds", [b]), target_items=ids("TargetItems", [b]), target_categories=ids("TargetCategories", [b]),
        history_items=ids("HistoryItems", [b, t]), history_categories=ids("HistoryCategories", [b, t]),
        lengths=torch.tensor(a["Lengths"], dtype=torch.long),
        labels=None if a.get("Labels") is None else torch.tensor(a["Labels"], dtype=torch.float32),
        negative_items=ids("NegativeItems", [b, t]), negative_categories=ids("NegativeCategories", [b, t]),
        history_labels=None if a.get("HistoryLabels") is None else torch.tensor(a["HistoryLabels"], dtype=torch.float32).reshape(b, t),
        extra_fields=ids("ExtraFields", [b, a["ExtraFieldCount"]]) if a["ExtraFieldCount"] > 0 else None,
    )


def relative(mine, theirs):
    mine = mine.detach().to(torch.float64).reshape(-1)
    theirs = theirs.detach().to(torch.float64).reshape(-1)
    scale = max(float(theirs.abs().max()) if theirs.numel() else 0.0, float(mine.abs().max()) if mine.numel() else 0.0)
    # Below 1e-6 the difference is taken against 1e-6: a gradient that is zero in exact arithmetic (the attention's
    # score bias, which the softmax cancels) holds rounding noise on both sides, whose ratio means nothing.
    scale = max(scale, 1e-6)
    return float((mine - theirs).abs().max()) / scale


def check(v):
    out = {"name": v["name"], "problem": None, "errors": {}}
    options = CtrModelOptions.from_json(v["options"])
    theirs = {k: x for k, x in json.loads(v["options"]).items() if k != "BehaviourSize"}
    if json.loads(options.to_json()) != theirs:  # by value, as .NET compares them
        out["problem"] = "options.json written here differs in value from .NET's:\n" + options.to_json() + "\n---\n" + v["options"]
    model = build_model(v["kind"], options).to(torch.float64)
    state = model.state_dict()
    theirs = v["state_before"]
    if sorted(state) != sorted(theirs):
        out["problem"] = f"state-dict keys differ: python {list(state)} vs .NET {list(theirs)}"
        return out
    if model.dotnet_state_order() != list(theirs):
        out["problem"] = f"the .NET key order is not parameters-then-buffers: {list(theirs)}"
    for key, entry in theirs.items():
        if list(state[key].shape) != entry["shape"]:
            out["problem"] = f"'{key}' is {list(state[key].shape)} here but {entry['shape']} in .NET"
            return out
    model.load_state_dict({k: tensor(e, state[k].dtype) for k, e in theirs.items()})
    model.train()
    result = model(batch_of(v["batch"]))
    result.loss.backward()
    errors = out["errors"]
    errors["logit"] = relative(result.logit, torch.tensor(v["logit"], dtype=torch.float64))
    errors["target_loss"] = relative(result.target_loss, torch.tensor(v["target_loss"], dtype=torch.float64))
    errors["loss"] = relative(result.loss, torch.tensor(v["loss"], dtype=torch.float64))
    if (result.auxiliary_loss is None) != (v["auxiliary_loss"] is None):
        out["problem"] = f"auxiliary loss is {result.auxiliary_loss} here but {v['auxiliary_loss']} in .NET"
    elif result.auxiliary_loss is not None:
        errors["auxiliary_loss"] = relative(result.auxiliary_loss, torch.tensor(v["auxiliary_loss"], dtype=torch.float64))
    for name, parameter in model.named_parameters():
        grad = parameter.grad if parameter.grad is not None else torch.zeros_like(parameter)
        errors["grad " + name] = relative(grad, tensor(v["grads"][name]))
    for name, value in model.state_dict().items():
        errors["state " + name] = relative(value, tensor(v["state_after"][name]))
    worst = max(errors, key=errors.get)
    out["max_error"], out["max_error_at"] = errors[worst], worst
    return out


def main():
    fixture, report = sys.argv[1], sys.argv[2]
    torch.set_num_threads(1)
    with open(fixture, encoding="utf-8") as f:
        variants = json.load(f)["variants"]
    results = []
    for v in variants:
        try:
            r = check(v)
        except Exception as e:  # reported per variant, so one failure does not hide the others
            r = {"name": v["name"], "problem": f"{type(e).__name__}: {e}", "errors": {}}
        r.setdefault("max_error", None)
        r.setdefault("max_error_at", "-")
        results.append(r)
        shown = float("nan") if r["max_error"] is None else r["max_error"]
        print(f"{r['name']:<28} {shown:.2e} {r['max_error_at']} {r['problem'] or ''}")
    with open(report, "w", encoding="utf-8") as f:
        json.dump({"variants": results}, f, indent=1)


if __name__ == "__main__":
    main()
