# SPDX-License-Identifier: Apache-2.0
"""Metric measurements for ``scope.metric``: ``MetricKind``, ``MetricValueType`` and ``MetricMeasurement``,
as the reference names them. A metric is a mark whose ``data_schema`` is
``{"name": "nemo.relay.metric_measurements", "version": "1"}`` and whose data holds the measurements;
trace exporters leave such marks out (docs/otel.md)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

__all__ = ["MetricKind", "MetricValueType", "MetricMeasurement", "METRIC_SCHEMA"]

#: The data schema of metric marks.
METRIC_SCHEMA = {"name": "nemo.relay.metric_measurements", "version": "1"}


class _Named:
    __slots__ = ("_wire", "_label")
    _type_name = ""

    def __init__(self, wire: str, label: str) -> None:
        self._wire, self._label = wire, label

    def __repr__(self) -> str:
        return f"{self._type_name}.{self._label}"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other._wire == self._wire  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((self._type_name, self._wire))


class MetricKind(_Named):
    """OpenTelemetry instrument kind of a measurement."""

    _type_name = "MetricKind"
    Counter: ClassVar["MetricKind"]
    UpDownCounter: ClassVar["MetricKind"]
    Gauge: ClassVar["MetricKind"]
    Histogram: ClassVar["MetricKind"]


MetricKind.Counter = MetricKind("counter", "Counter")
MetricKind.UpDownCounter = MetricKind("up_down_counter", "UpDownCounter")
MetricKind.Gauge = MetricKind("gauge", "Gauge")
MetricKind.Histogram = MetricKind("histogram", "Histogram")


class MetricValueType(_Named):
    """The numeric representation of a measurement's value."""

    _type_name = "MetricValueType"
    U64: ClassVar["MetricValueType"]
    I64: ClassVar["MetricValueType"]
    F64: ClassVar["MetricValueType"]


MetricValueType.U64 = MetricValueType("u64", "U64")
MetricValueType.I64 = MetricValueType("i64", "I64")
MetricValueType.F64 = MetricValueType("f64", "F64")


class MetricMeasurement:
    """One typed recording operation emitted by ``scope.metric``."""

    __slots__ = ("_name", "_kind", "_value_type", "_value", "_unit", "_description", "_attributes", "_boundaries")

    def __init__(
        self,
        name: str,
        kind: MetricKind,
        value_type: MetricValueType,
        value: int | float,
        unit: str | None = None,
        description: str | None = None,
        attributes: Mapping[str, Any] | None = None,
        boundaries: Sequence[float] | None = None,
    ) -> None:
        if not isinstance(name, str):
            raise TypeError(f"'{type(name).__name__}' object is not an instance of 'str'")
        if not isinstance(kind, MetricKind):
            raise TypeError(f"'{type(kind).__name__}' object is not an instance of 'MetricKind'")
        if not isinstance(value_type, MetricValueType):
            raise TypeError(f"'{type(value_type).__name__}' object is not an instance of 'MetricValueType'")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"'{type(value).__name__}' object cannot be interpreted as a number")
        self._name, self._kind, self._value_type, self._value = name, kind, value_type, value
        self._unit, self._description = unit, description
        self._attributes = dict(attributes) if attributes is not None else None
        self._boundaries = [float(b) for b in boundaries] if boundaries is not None else None

    name = property(lambda self: self._name)
    kind = property(lambda self: self._kind)
    value_type = property(lambda self: self._value_type)
    value = property(lambda self: self._value)
    unit = property(lambda self: self._unit)
    description = property(lambda self: self._description)
    attributes = property(lambda self: None if self._attributes is None else dict(self._attributes))
    boundaries = property(lambda self: None if self._boundaries is None else list(self._boundaries))

    def _to_json(self) -> dict[str, Any]:
        value = float(self._value) if self._value_type == MetricValueType.F64 else self._value
        return {
            "attributes": self._attributes,
            "boundaries": self._boundaries,
            "description": self._description,
            "kind": self._kind._wire,
            "name": self._name,
            "unit": self._unit,
            "value": value,
            "value_type": self._value_type._wire,
        }

    def __repr__(self) -> str:
        return f'<MetricMeasurement name="{self._name}" kind={self._kind._wire} value_type={self._value_type._wire}>'


def measurements_json(measurements: Any) -> list[dict[str, Any]]:
    """The data of a metric mark; raises ``ValueError`` like the reference for an empty list."""
    if not isinstance(measurements, (list, tuple)):
        raise TypeError(f"'{type(measurements).__name__}' object is not an instance of 'list'")
    if not measurements:
        raise ValueError("invalid argument: measurements must contain at least one entry")
    out = []
    for m in measurements:
        if isinstance(m, MetricMeasurement):
            out.append(m._to_json())
        else:
            raise TypeError(f"'{type(m).__name__}' object is not an instance of 'MetricMeasurement'")
    return out
