"""Five small ``torch.nn`` models of the kinds tiny audio models are, for the ONNX tests.

Random weights (seeded); BatchNorm running statistics are set to non-trivial
values so that the exported graphs fold them as a trained model's would.
Each builder returns ``(module in eval mode, example input)``; the input is
in the layout PyTorch uses (NCL for Conv1d, NCHW for Conv2d, NTC for the
sequence models).  Imported only by tests that have torch.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

CLASSES = 10


def _init(module: nn.Module, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    for m in module.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            n = m.num_features
            with torch.no_grad():
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.8, 1.2)
                m.bias.uniform_(-0.1, 0.1)
            assert m.running_mean.shape == (n,)
    return module.eval()


class KwsConv1d(nn.Module):
    """1-D conv keyword spotter: (1, 10 MFCC, 49 frames) NCL -> 10 logits."""

    def __init__(self, mfcc: int = 10, ch: int = 24):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv1d(mfcc, ch, 3, padding=1), nn.BatchNorm1d(ch), nn.ReLU(),
            nn.Conv1d(ch, ch, 3, stride=2, padding=1), nn.BatchNorm1d(ch), nn.ReLU(),
            nn.MaxPool1d(2),
            nn.Conv1d(ch, ch, 3, padding=1), nn.ReLU(),
            nn.AdaptiveAvgPool1d(1), nn.Flatten())
        self.fc = nn.Linear(ch, CLASSES)

    def forward(self, x):
        return self.fc(self.body(x))


class DsCnn(nn.Module):
    """DS-CNN (Zhang et al. 2017): (1, 1, 49, 10) NCHW -> 10 logits."""

    def __init__(self, ch: int = 24):
        super().__init__()

        def ds(c):
            return [nn.Conv2d(c, c, 3, padding=1, groups=c, bias=False), nn.BatchNorm2d(c),
                    nn.ReLU(), nn.Conv2d(c, c, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU()]

        self.body = nn.Sequential(
            nn.Conv2d(1, ch, (5, 3), stride=(2, 1), padding=(2, 1), bias=False),
            nn.BatchNorm2d(ch), nn.ReLU(), *ds(ch), *ds(ch),
            nn.AvgPool2d((25, 10)), nn.Flatten())
        self.fc = nn.Linear(ch, CLASSES)

    def forward(self, x):
        return self.fc(self.body(x))


class Encoder(nn.Module):
    """Input projection + one nn.TransformerEncoderLayer (post-norm, ReLU) + mean + classifier."""

    def __init__(self, feat: int = 10, dim: int = 32, heads: int = 2):
        super().__init__()
        self.proj = nn.Linear(feat, dim)
        self.layer = nn.TransformerEncoderLayer(dim, heads, dim_feedforward=64, dropout=0.0,
                                                batch_first=True)
        self.fc = nn.Linear(dim, CLASSES)

    def forward(self, x):                       # (N, T, feat)
        return self.fc(self.layer(self.proj(x)).mean(dim=1))


class GruClassifier(nn.Module):
    """nn.GRU over (N, T, feat) -> last hidden state -> classifier."""

    def __init__(self, feat: int = 10, hidden: int = 24, cell=nn.GRU):
        super().__init__()
        self.rnn = cell(feat, hidden, batch_first=True)
        self.fc = nn.Linear(hidden, CLASSES)

    def forward(self, x):
        y, _ = self.rnn(x)
        return self.fc(y[:, -1])


class Lmu(nn.Module):
    """An LMU in torch (window form, as edgekit's zoo ``lmu``): (N, T, feat) -> logits.

    ``u = W_u x``; the Legendre memory of each of ``memory_d`` channels is a
    causal depthwise convolution over time with the fixed LTI kernel
    (:func:`edgekit.models.lmu.impulse_response`), then ``h = relu(W_m m +
    W_x x)``, the mean over time and a classifier.
    """

    def __init__(self, feat: int = 10, steps: int = 49, order: int = 6, memory_d: int = 4,
                 units: int = 32):
        super().__init__()
        from edgekit.models.lmu import impulse_response

        self.steps, self.order, self.memory_d = steps, order, memory_d
        self.u = nn.Linear(feat, memory_d)
        h = impulse_response(order, float(steps), steps).astype(np.float32)   # (T, order)
        # Conv1d computes a correlation: time-reverse the kernel; output channel
        # c * order + k is memory channel c's k-th Legendre coefficient
        kernel = np.broadcast_to(h[::-1].T[None], (memory_d, order, steps))
        self.memory = nn.Conv1d(memory_d, memory_d * order, steps, groups=memory_d, bias=False,
                                padding=0)
        with torch.no_grad():
            self.memory.weight.copy_(torch.from_numpy(
                np.ascontiguousarray(kernel).reshape(memory_d * order, 1, steps)))
        self.memory.weight.requires_grad_(False)
        self.hm = nn.Linear(memory_d * order, units)
        self.hx = nn.Linear(feat, units, bias=False)
        self.fc = nn.Linear(units, CLASSES)

    def forward(self, x):                       # (N, T, feat)
        u = self.u(x).transpose(1, 2)           # (N, memory_d, T)
        u = nn.functional.pad(u, (self.steps - 1, 0))
        m = self.memory(u).transpose(1, 2)      # (N, T, memory_d * order)
        h = torch.relu(self.hm(m) + self.hx(x))
        return self.fc(h.mean(dim=1))


MODELS = {
    # name: (builder, example input shape)
    "kws_conv1d": (KwsConv1d, (1, 10, 49)),
    "ds_cnn": (DsCnn, (1, 1, 49, 10)),
    "transformer": (Encoder, (1, 16, 10)),
    "gru": (GruClassifier, (1, 16, 10)),
    "lstm": (lambda: GruClassifier(cell=nn.LSTM), (1, 16, 10)),
    "lmu": (Lmu, (1, 49, 10)),
}


def build(name: str, seed: int = 0):
    """``(module in eval mode, example input)`` of one of :data:`MODELS`."""
    make, shape = MODELS[name]
    torch.manual_seed(seed)
    model = _init(make(), seed)
    return model, torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def export(model, example, path, dynamo: bool = False, opset: int = 17) -> None:
    """``torch.onnx.export`` with the TorchScript exporter or the dynamo one."""
    kwargs = {"dynamo": dynamo, "input_names": ["x"], "output_names": ["logits"]}
    if dynamo:
        kwargs["optimize"] = True
    torch.onnx.export(model, (example,), str(path), opset_version=opset, **kwargs)
