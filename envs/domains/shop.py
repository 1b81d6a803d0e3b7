"""Online shop: product search, orders, order status, cancellations and returns."""

from __future__ import annotations

import random
from typing import Annotated, Any, Literal, TypedDict

from envs.api import Schema, SimulatedAPI, ToolError, find_key, new_id, readonly
from envs.intents import Intent, NoSample, Sample, maybe, opt, pick, say_money

Category = Literal["electronics", "home", "kitchen", "sports", "books", "toys"]
Shipping = Literal["standard", "express", "overnight"]
SHIPPING_COST = {"standard": 0.0, "express": 9.99, "overnight": 24.99}
ENTITIES = {
    "train": {"products": [
        ("Wireless Mouse", "electronics"), ("USB-C Charger", "electronics"), ("Bluetooth Speaker", "electronics"),
        ("Noise Cancelling Headphones", "electronics"), ("Desk Lamp", "home"), ("Throw Blanket", "home"),
        ("Wall Clock", "home"), ("Chef's Knife", "kitchen"), ("French Press", "kitchen"),
        ("Cast Iron Skillet", "kitchen"), ("Yoga Mat", "sports"), ("Tennis Racket", "sports"),
        ("Water Bottle", "sports"), ("Mystery Novel", "books"), ("Cookbook", "books"), ("Puzzle Cube", "toys"),
        ("Toy Train Set", "toys")]},
    "test": {"products": [
        ("Mechanical Keyboard", "electronics"), ("Smart Watch", "electronics"), ("Scented Candle", "home"),
        ("Linen Pillowcase", "home"), ("Espresso Grinder", "kitchen"), ("Bamboo Cutting Board", "kitchen"),
        ("Jump Rope", "sports"), ("Hiking Backpack", "sports"), ("Poetry Anthology", "books"),
        ("Building Blocks", "toys")]},
}


class OrderItem(TypedDict):
    """One line of an order.

    Attributes:
        sku: The product's SKU, e.g. "SKU-1001".
        quantity: How many units.
    """

    sku: str
    quantity: Annotated[int, Schema(minimum=1, maximum=20)]


class ShopAPI(SimulatedAPI):
    """A product catalog with stock, and the user's orders."""

    domain = "shop"

    @classmethod
    def default_state(cls, rng: random.Random) -> dict[str, Any]:
        return build_state(rng, "train")

    def _order(self, order_id: str) -> tuple[str, dict[str, Any]]:
        key = find_key(self.s["orders"], order_id, "order")
        return key, self.s["orders"][key]

    @readonly
    def search_products(
        self,
        query: str,
        max_price: float | None = None,
        category: Category | None = None,
        in_stock_only: bool = False,
    ) -> list[dict[str, Any]]:
        """Searches the catalog by name.

        Args:
            query: Words to look for in product names.
            max_price: Highest acceptable price in USD.
            category: Only products of this category.
            in_stock_only: Leave out products that are sold out.
        """
        words = query.casefold().split()
        return [{"sku": sku, "name": p["name"], "price": p["price"], "in_stock": p["stock"] > 0}
                for sku, p in self.s["products"].items()
                if all(w in p["name"].casefold() for w in words)
                and (max_price is None or p["price"] <= max_price)
                and (category is None or p["category"] == category)
                and (not in_stock_only or p["stock"] > 0)]

    def place_order(self, items: list[OrderItem], shipping: Shipping = "standard", gift_wrap: bool = False) -> dict[str, Any]:
        """Places an order for one or more products.

        Args:
            items: The products and quantities to order.
            shipping: Delivery speed.
            gift_wrap: Wrap the order as a gift.
        """
        if not items:
            raise ToolError("an order needs at least one item")
        lines = []
        for item in items:  # check everything before changing anything
            sku = find_key(self.s["products"], item["sku"], "product SKU")
            if self.s["products"][sku]["stock"] < item["quantity"]:
                raise ToolError(f"only {self.s['products'][sku]['stock']} of {sku} in stock")
            lines.append({"sku": sku, "quantity": item["quantity"]})
        if len({line["sku"] for line in lines}) != len(lines):
            raise ToolError("each SKU may appear only once in an order")
        total = SHIPPING_COST[shipping] + (4.99 if gift_wrap else 0.0)
        for line in lines:
            product = self.s["products"][line["sku"]]
            product["stock"] -= line["quantity"]
            total += product["price"] * line["quantity"]
        order_id = new_id(self.s, "ORD-", "next_order")
        self.s["orders"][order_id] = {"items": lines, "status": "processing", "shipping": shipping,
                                      "gift_wrap": gift_wrap, "total": round(total, 2)}
        return {"order_id": order_id, "status": "processing", "total": round(total, 2)}

    @readonly
    def get_order_status(self, order_id: str) -> dict[str, Any]:
        """Gets the status and contents of an order.

        Args:
            order_id: The order number, e.g. "ORD-5001".
        """
        key, order = self._order(order_id)
        return {"order_id": key, "status": order["status"], "items": [dict(i) for i in order["items"]],
                "total": order["total"]}

    def cancel_order(
        self,
        order_id: str,
        reason: Literal["changed_mind", "found_cheaper", "ordered_by_mistake", "other"] = "other",
    ) -> dict[str, Any]:
        """Cancels an order that has not shipped yet, returning its items to stock.

        Args:
            order_id: The order number.
            reason: Why the order is cancelled.
        """
        key, order = self._order(order_id)
        if order["status"] != "processing":
            raise ToolError(f"order {key} is {order['status']} and can no longer be cancelled")
        for line in order["items"]:
            self.s["products"][line["sku"]]["stock"] += line["quantity"]
        order["status"] = "cancelled"
        order["cancel_reason"] = reason
        return {"order_id": key, "status": "cancelled", "refund": order["total"]}

    def return_item(
        self,
        order_id: str,
        sku: str,
        quantity: Annotated[int, Schema(minimum=1)] = 1,
        refund_method: Literal["original_payment", "store_credit"] = "original_payment",
    ) -> dict[str, Any]:
        """Returns delivered items from an order.

        Args:
            order_id: The order number.
            sku: The product to return.
            quantity: How many units to return.
            refund_method: How the refund is paid.
        """
        key, order = self._order(order_id)
        if order["status"] != "delivered":
            raise ToolError(f"order {key} is {order['status']}; only delivered orders can be returned")
        line = next((i for i in order["items"] if i["sku"].casefold() == sku.strip().casefold()), None)
        if line is None:
            raise ToolError(f"order {key} has no item {sku!r}")
        already = sum(r["quantity"] for r in order.get("returns", []) if r["sku"] == line["sku"])
        if already + quantity > line["quantity"]:
            raise ToolError(f"cannot return {quantity}: order {key} has {line['quantity'] - already} left to return")
        order.setdefault("returns", []).append({"sku": line["sku"], "quantity": quantity, "refund_method": refund_method})
        refund = round(self.s["products"][line["sku"]]["price"] * quantity, 2)
        return {"order_id": key, "returned": quantity, "refund": refund, "refund_method": refund_method}


def build_state(rng: random.Random, split: str) -> dict[str, Any]:
    """A world: eight catalog products and three past orders (processing, shipped, delivered)."""
    products = {}
    for i, (name, category) in enumerate(rng.sample(ENTITIES[split]["products"], 8)):
        products[f"SKU-{1000 + i * 37 + rng.randrange(37)}"] = {
            "name": name, "category": category, "price": round(rng.uniform(8, 180), 2), "stock": rng.randrange(3, 25)}
    orders = {}
    skus = list(products)
    next_order = rng.randrange(5000, 8000)
    for status in ("processing", "shipped", "delivered"):
        lines = [{"sku": sku, "quantity": rng.randint(1, 3)} for sku in rng.sample(skus, rng.randint(1, 2))]
        total = round(sum(products[li["sku"]]["price"] * li["quantity"] for li in lines), 2)
        orders[f"ORD-{next_order}"] = {"items": lines, "status": status, "shipping": "standard",
                                       "gift_wrap": False, "total": total}
        next_order += rng.randrange(1, 40)
    return {"products": products, "orders": orders, "next_order": next_order}


# ---------------------------------------------------------------------------------------------------
# What users ask
# ---------------------------------------------------------------------------------------------------

_SHIPPING = {"express": [" with express shipping", " shipped express"], "overnight": [" with overnight delivery"],
             "standard": [" with standard shipping"]}


def _orders_with(s: dict[str, Any], status: str) -> list[str]:
    return [k for k, o in s["orders"].items() if o["status"] == status]


def _status(rng: random.Random, s: dict[str, Any], split: str) -> Sample:
    key = rng.choice(list(s["orders"]))
    return Sample({"order_id": key}, [("get_order_status", {"order_id": [key]})])


def _cancel(rng: random.Random, s: dict[str, Any], split: str) -> Sample:
    key = pick(rng, _orders_with(s, "processing"), "no order can be cancelled")
    reason_text, reason = maybe(rng, 0.4, {"found_cheaper": [" because I found it cheaper elsewhere"],
                                           "changed_mind": [" since I changed my mind"],
                                           "ordered_by_mistake": [" because I ordered it by mistake"]})
    return Sample({"order_id": key, "reason": reason_text},
                  [("cancel_order", opt({"order_id": [key]}, "reason", reason))])


def _order_sku(rng: random.Random, s: dict[str, Any], split: str) -> Sample:
    sku = pick(rng, [k for k, p in s["products"].items() if p["stock"] >= 3], "nothing in stock")
    qty = rng.randint(1, 3)
    ship_text, shipping = maybe(rng, 0.4, _SHIPPING)
    wrap_text, wrap = maybe(rng, 0.2, {True: [" and gift-wrap it", ", gift wrapped"]})
    return Sample({"sku": sku, "quantity": str(qty), "shipping": ship_text + wrap_text},
                  [("place_order", opt(opt({"items": [[{"sku": [sku], "quantity": [qty]}]]}, "shipping", shipping),
                                       "gift_wrap", wrap))])


def _return(rng: random.Random, s: dict[str, Any], split: str) -> Sample:
    key = pick(rng, _orders_with(s, "delivered"), "no delivered order")
    line = rng.choice(s["orders"][key]["items"])
    if any(r["sku"] == line["sku"] for r in s["orders"][key].get("returns", [])):
        raise NoSample("already returned")
    credit_text, credit = maybe(rng, 0.3, {"store_credit": [" for store credit"]})
    return Sample({"order_id": key, "sku": line["sku"], "refund": credit_text},
                  [("return_item", opt({"order_id": [key], "sku": [line["sku"]]}, "refund_method", credit))])


def _search(rng: random.Random, s: dict[str, Any], split: str) -> Sample:
    product = rng.choice(list(s["products"].values()))
    limit = float(rng.choice([25, 50, 100, 150, 200]))
    price_text, max_price = maybe(rng, 0.4, {limit: [f" under {say_money(rng, limit)}", f" for less than {say_money(rng, limit)}"]})
    return Sample({"query": product["name"].lower(), "max_price": price_text},
                  [("search_products", opt({"query": [product["name"].lower(), product["name"]]}, "max_price", max_price))])


def _buy_by_name(rng: random.Random, s: dict[str, Any], split: str) -> Sample:
    sku = pick(rng, [k for k, p in s["products"].items() if p["stock"] >= 3], "nothing in stock")
    name = s["products"][sku]["name"]
    if len(ShopAPI(s).search_products(name)) != 1:  # read-only, so the state stays untouched
        raise NoSample("the name matches several products")
    qty = rng.randint(1, 3)
    return Sample({"product": name.lower(), "quantity": str(qty)},
                  [("search_products", {"query": [name.lower(), name]}),
                   ("place_order", {"items": [[{"sku": [sku], "quantity": [qty]}]]})])


INTENTS = [
    Intent("shop.status", (
        "Where is my order {order_id}?",
        "What's the status of order {order_id}?",
        "Has order {order_id} shipped yet?",
        "Track my order {order_id}, please.",
        "Can you check on order {order_id}?",
        "I'd like an update on order {order_id}.",
        "Give me the status of {order_id}.",
        "Is {order_id} on its way?",
    ), _status),
    Intent("shop.cancel", (
        "Cancel order {order_id}{reason}.",
        "Please cancel my order {order_id}{reason}.",
        "I want to cancel {order_id}{reason}.",
        "Stop order {order_id} before it ships{reason}.",
        "Can you cancel the order {order_id}{reason}?",
        "Call off my order {order_id}{reason}.",
        "I no longer want order {order_id}; cancel it{reason}.",
        "Withdraw order {order_id}{reason}.",
    ), _cancel),
    Intent("shop.order_sku", (
        "Order {quantity} of {sku}{shipping}.",
        "Buy {quantity} units of product {sku}{shipping}.",
        "Place an order for {quantity} x {sku}{shipping}.",
        "I'd like to purchase {quantity} of item {sku}{shipping}.",
        "Please order product {sku}, quantity {quantity}{shipping}.",
        "Get me {quantity} of {sku}{shipping}.",
        "Put in an order for {quantity} pieces of {sku}{shipping}.",
        "Purchase {sku}, {quantity} units{shipping}.",
    ), _order_sku, missing={"items.quantity": (
        "Order some of {sku}{shipping}.",
        "Buy product {sku} for me{shipping}.",
        "Place an order for {sku}{shipping}.",
        "I'd like to purchase item {sku}{shipping}.",
        "Please order product {sku}{shipping}.",
        "Get me some {sku}{shipping}.",
        "Put in an order for {sku}{shipping}.",
        "Purchase {sku}{shipping}.",
    )}),
    Intent("shop.return", (
        "Return {sku} from order {order_id}{refund}.",
        "I want to send back {sku} from my order {order_id}{refund}.",
        "Start a return for item {sku} in order {order_id}{refund}.",
        "Please process a return of {sku} from {order_id}{refund}.",
        "The {sku} from order {order_id} doesn't work; return it{refund}.",
        "Can I return {sku} that came with order {order_id}{refund}?",
        "Send {sku} back, it was in order {order_id}{refund}.",
        "Return one {sku} from {order_id}{refund}.",
    ), _return),
    Intent("shop.search", (
        "Search for {query}{max_price}.",
        "Do you have any {query}{max_price}?",
        "Find me a {query}{max_price}.",
        "Look up {query} in the catalog{max_price}.",
        "Show me {query} options{max_price}.",
        "I'm looking for a {query}{max_price}.",
        "Any {query} available{max_price}?",
        "Check the shop for {query}{max_price}.",
    ), _search),
    Intent("shop.buy_by_name", (
        "Buy {quantity} {product} for me.",
        "Order {quantity} of the {product}.",
        "I'd like {quantity} {product}; please place the order.",
        "Find the {product} and order {quantity}.",
        "Purchase {quantity} units of the {product}.",
        "Get me {quantity} {product}, please.",
        "Please order {quantity} of that {product}.",
        "Can you buy {quantity} {product}?",
    ), _buy_by_name),
]

OUT_OF_SCOPE = (
    "Apply a discount code to my cart.",
    "What's your store's return policy?",
    "Change the delivery address on my account.",
    "Write a review for the product I bought.",
    "When will the summer sale start?",
    "Update the credit card on file.",
    "Chat with a customer service agent.",
    "Do you ship internationally?",
)
