"""Runyard's example training run, with nothing to install.

Fits y = 3x + 1 with noise by mini-batch gradient descent and reports to the task it runs as:
the train and validation loss at every epoch, the final accuracy as a single value, a plot of
the fit, and its hyperparameters (the task's Args, given to it as --name value). Run by hand,
it only prints.
"""

import argparse
import base64
import json
import os
import random
import time
import urllib.request

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--lr", type=float, default=0.05, help="learning rate")
parser.add_argument("--epochs", type=int, default=30, help="passes over the data")
parser.add_argument("--batch_size", type=int, default=16, help="samples per step")
parser.add_argument("--seed", type=int, default=0, help="random seed of the data")
parser.add_argument("--fail_at", type=int, default=-1, help="fail at this epoch (a failed run)")
parser.add_argument("--epoch_seconds", type=float, default=0.05, help="time an epoch takes")
args = parser.parse_args()

SERVER = os.environ.get("RUNYARD_SERVER", "").rstrip("/")
TASK = os.environ.get("RUNYARD_TASK_ID")


def authorization():
    token = os.environ.get("RUNYARD_TOKEN")
    if token:
        return "Bearer " + token
    pair = "%s:%s" % (os.environ.get("CLEARML_API_ACCESS_KEY", ""), os.environ.get("CLEARML_API_SECRET_KEY", ""))
    return "Basic " + base64.b64encode(pair.encode()).decode()


def report(*events):
    """Sends events to the task; prints them when not run by an agent."""
    if not (SERVER and TASK):
        print(json.dumps(events))
        return
    body = json.dumps({"events": [dict(e, task=TASK) for e in events]}).encode()
    request = urllib.request.Request(
        SERVER + "/api/v1/events/batch",
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": authorization()},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        answer.read()


def scalar(metric, variant, iteration, value):
    return {"type": "scalar", "metric": metric, "variant": variant, "iteration": iteration, "value": value}


rng = random.Random(args.seed)
points = [(x, 3 * x + 1 + rng.gauss(0, 0.3)) for x in (rng.uniform(-1, 1) for _ in range(256))]
train, valid = points[:200], points[200:]
w, b = 0.0, 0.0


def loss(data):
    return sum((w * x + b - y) ** 2 for x, y in data) / len(data)


print("training with lr=%g, %d epochs, batch size %d" % (args.lr, args.epochs, args.batch_size))
for epoch in range(args.epochs):
    if epoch == args.fail_at:
        raise RuntimeError("the loss diverged at epoch %d (--fail_at)" % epoch)
    rng.shuffle(train)
    for start in range(0, len(train), args.batch_size):
        batch = train[start : start + args.batch_size]
        gw = sum(2 * (w * x + b - y) * x for x, y in batch) / len(batch)
        gb = sum(2 * (w * x + b - y) for x, y in batch) / len(batch)
        w, b = w - args.lr * gw, b - args.lr * gb
    train_loss, valid_loss = loss(train), loss(valid)
    report(scalar("loss", "train", epoch, train_loss), scalar("loss", "validation", epoch, valid_loss))
    print("epoch %d: train loss %.4f, validation loss %.4f" % (epoch, train_loss, valid_loss))
    time.sleep(args.epoch_seconds)

accuracy = sum(abs(w * x + b - y) < 0.5 for x, y in valid) / len(valid)
xs = sorted(x for x, _ in valid)
figure = {
    "data": [
        {"type": "scatter", "mode": "markers", "name": "validation", "x": [x for x, _ in valid], "y": [y for _, y in valid]},
        {"type": "scatter", "mode": "lines", "name": "fit", "x": xs, "y": [w * x + b for x in xs]},
    ],
    "layout": {"title": {"text": "fit after %d epochs" % args.epochs}, "xaxis": {"title": {"text": "x"}}, "yaxis": {"title": {"text": "y"}}},
}
report(
    {"type": "single", "name": "accuracy", "value": accuracy},
    {"type": "plot", "metric": "fit", "variant": "validation", "iteration": args.epochs - 1, "figure": figure},
)
print("done: w=%.3f b=%.3f accuracy=%.2f" % (w, b, accuracy))
