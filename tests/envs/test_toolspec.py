"""Schemas from type hints and docstrings, converters, and argument validation."""

from __future__ import annotations

import dataclasses
import datetime
from typing import Annotated, Literal, NotRequired, TypedDict

import pytest

from envs.argcheck import MAX_STRING, compile_parameters, compile_value
from envs.toolspec import Schema, class_tools, converter, function_schema, parse_docstring, readonly


class Item(TypedDict):
    """A line item.

    Attributes:
        sku: Product code.
        qty: How many.
    """

    sku: str
    qty: NotRequired[int]


@dataclasses.dataclass
class Point:
    """A point.

    Attributes:
        x: Horizontal.
        y: Vertical.
    """

    x: float
    y: float = 0.0


class Toy:
    def order(
        self,
        items: list[Item],
        when: datetime.date,
        speed: Literal["slow", "fast"] = "slow",
        note: str | None = None,
        count: Annotated[int, Schema(minimum=1, maximum=9)] = 1,
        where: Point | None = None,
    ) -> dict:
        """Places an order.

        Second paragraph of the description.

        Args:
            items: What to order,
                one entry per product.
            when: Delivery day.
            speed: Delivery speed.
            note: A note.
            count: Copies.
            where: Drop-off point.

        Returns:
            The order.
        """
        return {}

    @readonly
    def peek(self, flag: bool) -> bool:
        """Looks.

        Args:
            flag: A flag.
        """
        return flag

    def _hidden(self) -> None:
        """Not a tool."""


def test_docstring_parsing_reads_summary_and_args_with_continuations():
    summary, args = parse_docstring(Toy.order.__doc__)
    assert summary == "Places an order. Second paragraph of the description."
    assert args["items"] == "What to order, one entry per product."
    assert args["when"] == "Delivery day."
    assert "Returns" not in args and "The order." not in args.values()


def test_schema_maps_every_type():
    fn = function_schema(Toy.order)["function"]
    props = fn["parameters"]["properties"]
    assert fn["name"] == "order"
    assert fn["parameters"]["required"] == ["items", "when"]
    assert props["items"]["type"] == "array"
    item = props["items"]["items"]
    assert item["type"] == "object" and item["required"] == ["sku"]
    assert item["properties"]["qty"] == {"type": "integer", "description": "How many."}
    assert props["when"] == {"type": "string", "format": "date", "description": "Delivery day."}
    assert props["speed"]["enum"] == ["slow", "fast"] and props["speed"]["default"] == "slow"
    assert props["note"]["type"] == "string" and props["note"]["default"] is None
    assert props["count"]["minimum"] == 1 and props["count"]["maximum"] == 9
    where = props["where"]
    assert where["type"] == "object" and where["required"] == ["x"] and where["properties"]["y"]["default"] == 0.0


def test_class_tools_lists_public_methods_and_readonly_marks():
    tools = class_tools(Toy)
    assert list(tools) == ["order", "peek"]
    assert tools["peek"].readonly and not tools["order"].readonly
    assert class_tools(Toy) is tools  # cached per class


def test_unsupported_hints_are_rejected():
    def f(x: int | str) -> None:
        """F.

        Args:
            x: X.
        """

    with pytest.raises(TypeError, match="unions"):
        function_schema(f)


def test_converters_turn_json_into_hinted_values():
    assert converter(datetime.date)("2025-03-14") == datetime.date(2025, 3, 14)
    assert converter(float)(3) == 3.0 and isinstance(converter(float)(3), float)
    assert converter(Point | None)({"x": 1.0}) == Point(1.0)
    assert converter(Point | None)(None) is None
    assert converter(str) is None


def test_validator_messages():
    check = class_tools(Toy)["order"].validate
    ok = {"items": [{"sku": "A"}], "when": "2025-01-02"}
    assert check(ok) is None
    assert "missing required argument 'when'" in check({"items": []})
    assert "unexpected argument 'colour'" in check({**ok, "colour": 1})
    assert "must be an array" in check({**ok, "items": "A"})
    assert "missing the required key 'sku'" in check({**ok, "items": [{"qty": 1}]})
    assert "unexpected key 'size'" in check({**ok, "items": [{"sku": "A", "size": 2}]})
    assert "YYYY-MM-DD" in check({**ok, "when": "14/03/2025"})
    assert "must be one of" in check({**ok, "speed": "warp"})
    assert "at most 9" in check({**ok, "count": 10})
    assert "must be an integer" in check({**ok, "count": True})  # bools are not ints here
    assert check({**ok, "note": None}) is None  # an optional None default accepts null
    assert "arguments must be an object" in check([1, 2])


def test_value_limits_and_bfcl_types():
    assert "too long" in compile_value({"type": "string"}, "s")("x" * (MAX_STRING + 1))
    assert "finite" in compile_value({"type": "number"}, "n")(float("nan"))
    assert "out of range" in compile_value({"type": "integer"}, "n")(10**30)
    assert compile_value({"type": "number", "x-bfcl-type": "float"}, "n")(3) is None  # int passes for float
    assert compile_value({"type": "string", "x-bfcl-type": "any"}, "a")([1, {"b": 2}]) is None
    assert compile_value({"type": "dict"}, "d")({"k": 1}) is None
    assert "must be an object" in compile_value({"type": "dict"}, "d")(3)
    assert compile_value({"type": ["string", "null"]}, "u")(None) is None
    on_array = compile_value({"type": "array", "items": {"type": "string"}, "enum": ["a", "b"]}, "m")  # BFCL quirk
    assert on_array(["a", "b"]) is None and "must be one of" in on_array(["c"])
    # a foreign schema with a regex Python cannot compile must not break the validator
    assert compile_parameters({"properties": {"p": {"type": "string", "pattern": "(?<x"}}})({"p": "a"}) is None
