"""DEPTHWISE_CONV_2D: int8, per-channel filters 1 x H x W x (C * multiplier)."""

from __future__ import annotations

from edgekit.firmware_export.ops.conv import conv_like


def lower(op, graph):
    return conv_like(op, graph, depthwise=True)
