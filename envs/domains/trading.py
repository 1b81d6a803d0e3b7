"""Stock trading: quotes, symbol lookup, market and limit orders, portfolio and watchlist."""

from __future__ import annotations

import random
from typing import Annotated, Any, Literal

from envs.api import Schema, SimulatedAPI, ToolError, find_key, new_id, readonly
from envs.intents import Intent, NoSample, Sample, and_list, maybe, opt, orders, say_money

ENTITIES = {
    "train": {"companies": {"AAPL": "Apple", "MSFT": "Microsoft", "AMZN": "Amazon", "TSLA": "Tesla",
                            "NVDA": "Nvidia", "NFLX": "Netflix", "INTC": "Intel", "DIS": "Disney"}},
    "test": {"companies": {"GOOGL": "Alphabet", "META": "Meta", "KO": "Coca-Cola", "NKE": "Nike", "BA": "Boeing",
                           "PFE": "Pfizer"}},
}


class TradingAPI(SimulatedAPI):
    """A brokerage account: cash, holdings, open orders, and market quotes."""

    domain = "trading"

    @classmethod
    def default_state(cls, rng: random.Random) -> dict[str, Any]:
        return build_state(rng, "train")

    def _symbol(self, symbol: str) -> str:
        return find_key(self.s["quotes"], symbol.strip().upper(), "symbol")

    @readonly
    def get_quote(self, symbol: str) -> dict[str, Any]:
        """Gets the latest price of a stock.

        Args:
            symbol: Ticker symbol, e.g. "AAPL".
        """
        key = self._symbol(symbol)
        q = self.s["quotes"][key]
        return {"symbol": key, "company": q["company"], "price": q["price"], "change_pct": q["change_pct"]}

    @readonly
    def lookup_symbol(self, company: str) -> dict[str, Any]:
        """Finds the ticker symbol of a company.

        Args:
            company: The company name, e.g. "Apple".
        """
        for key, q in self.s["quotes"].items():
            if q["company"].casefold() == company.strip().casefold():
                return {"symbol": key, "company": q["company"]}
        raise ToolError(f"no listed company named {company!r}")

    def place_trade(
        self,
        symbol: str,
        side: Literal["buy", "sell"],
        shares: Annotated[int, Schema(minimum=1, maximum=100000)],
        order_type: Literal["market", "limit"] = "market",
        limit_price: float | None = None,
    ) -> dict[str, Any]:
        """Buys or sells shares. Market orders fill at the current price; limit orders fill only at the
        limit price or better and otherwise stay open.

        Args:
            symbol: Ticker symbol.
            side: Buy or sell.
            shares: Number of shares.
            order_type: Market or limit order.
            limit_price: Required for limit orders: the worst acceptable price per share.
        """
        key = self._symbol(symbol)
        price = self.s["quotes"][key]["price"]
        if order_type == "limit":
            if limit_price is None or limit_price <= 0:
                raise ToolError("a limit order needs a positive limit_price")
            marketable = price <= limit_price if side == "buy" else price >= limit_price
            if not marketable:
                order_id = new_id(self.s, "T-", "next_order")
                self.s["open_orders"][order_id] = {"symbol": key, "side": side, "shares": shares,
                                                   "limit_price": limit_price}
                return {"order_id": order_id, "status": "open"}
        cost = round(price * shares, 2)
        held = self.s["holdings"].get(key, 0)
        if side == "buy" and cost > self.s["cash"]:
            raise ToolError(f"insufficient cash: {shares} {key} cost {cost}, cash is {self.s['cash']}")
        if side == "sell" and shares > held:
            raise ToolError(f"cannot sell {shares} {key}: you hold {held}")
        self.s["cash"] = round(self.s["cash"] + (cost if side == "sell" else -cost), 2)
        if held + (shares if side == "buy" else -shares):
            self.s["holdings"][key] = held + (shares if side == "buy" else -shares)
        else:
            del self.s["holdings"][key]
        order_id = new_id(self.s, "T-", "next_order")
        return {"order_id": order_id, "status": "filled", "price": price, "total": cost}

    @readonly
    def get_portfolio(self) -> dict[str, Any]:
        """Shows cash, holdings with their market value, and open orders."""
        holdings = [{"symbol": k, "shares": n, "value": round(n * self.s["quotes"][k]["price"], 2)}
                    for k, n in sorted(self.s["holdings"].items())]
        return {"cash": self.s["cash"], "holdings": holdings,
                "open_orders": [{"order_id": k, **v} for k, v in self.s["open_orders"].items()]}

    def cancel_trade(self, order_id: str) -> dict[str, Any]:
        """Cancels an open (unfilled) order.

        Args:
            order_id: The order, e.g. "T-12".
        """
        key = find_key(self.s["open_orders"], order_id, "open order")
        del self.s["open_orders"][key]
        return {"order_id": key, "status": "cancelled"}

    def add_to_watchlist(self, symbols: list[str]) -> dict[str, Any]:
        """Adds stocks to the watchlist.

        Args:
            symbols: Ticker symbols to watch.
        """
        keys = [self._symbol(s) for s in symbols]
        self.s["watchlist"] = sorted(set(self.s["watchlist"]) | set(keys))
        return {"watchlist": list(self.s["watchlist"])}


def build_state(rng: random.Random, split: str) -> dict[str, Any]:
    """A world: quotes for the split's companies, cash, two holdings and one open limit order."""
    companies = ENTITIES[split]["companies"]
    quotes = {sym: {"company": name, "price": round(rng.uniform(20, 600), 2), "change_pct": round(rng.uniform(-4, 4), 2)}
              for sym, name in companies.items()}
    held = rng.sample(list(companies), 2)
    open_sym = rng.choice(list(companies))
    next_order = rng.randrange(10, 500)
    return {"quotes": quotes, "cash": float(rng.randrange(20000, 60000)),
            "holdings": {s: rng.randrange(5, 60) for s in held},
            "open_orders": {f"T-{next_order}": {"symbol": open_sym, "side": "buy", "shares": rng.randrange(1, 20),
                                                "limit_price": round(quotes[open_sym]["price"] * 0.9, 2)}},
            "watchlist": [], "next_order": next_order + 1}


# ---------------------------------------------------------------------------------------------------
# What users ask
# ---------------------------------------------------------------------------------------------------


def _quote(rng: random.Random, s: dict[str, Any], split: str) -> Sample:
    sym = rng.choice(list(s["quotes"]))
    return Sample({"symbol": sym}, [("get_quote", {"symbol": [sym]})])


def _buy(rng: random.Random, s: dict[str, Any], split: str) -> Sample:
    sym = rng.choice(list(s["quotes"]))
    shares = rng.choice([2, 5, 10, 15, 20, 25, 50])
    price = s["quotes"][sym]["price"]
    limit = round(price * rng.choice([0.9, 0.95, 1.05]))
    limit_text, limit_price = maybe(rng, 0.3, {float(limit): [f" with a limit of {say_money(rng, limit)}",
                                                              f" at a limit price of {say_money(rng, limit)}"]})
    args = opt({"symbol": [sym], "side": ["buy"], "shares": [shares]}, "limit_price", limit_price)
    if limit_price is not None:
        args["order_type"] = ["limit"]
    return Sample({"symbol": sym, "shares": str(shares), "limit": limit_text}, [("place_trade", args)])


def _sell(rng: random.Random, s: dict[str, Any], split: str) -> Sample:
    if not s["holdings"]:
        raise NoSample("nothing held")
    sym = rng.choice(list(s["holdings"]))
    shares = rng.randint(min(2, s["holdings"][sym]), s["holdings"][sym])
    return Sample({"symbol": sym, "shares": str(shares)},
                  [("place_trade", {"symbol": [sym], "side": ["sell"], "shares": [shares]})])


def _portfolio(rng: random.Random, s: dict[str, Any], split: str) -> Sample:
    return Sample({}, [("get_portfolio", {})])


def _watch(rng: random.Random, s: dict[str, Any], split: str) -> Sample:
    symbols = rng.sample(list(s["quotes"]), rng.randint(1, 3))
    return Sample({"symbols": and_list(symbols)}, [("add_to_watchlist", {"symbols": orders(symbols)})])


def _cancel(rng: random.Random, s: dict[str, Any], split: str) -> Sample:
    if not s["open_orders"]:
        raise NoSample("no open orders")
    key = rng.choice(list(s["open_orders"]))
    return Sample({"order_id": key}, [("cancel_trade", {"order_id": [key]})])


def _buy_company(rng: random.Random, s: dict[str, Any], split: str) -> Sample:
    sym = rng.choice(list(s["quotes"]))
    company = s["quotes"][sym]["company"]
    shares = rng.choice([2, 3, 5, 10, 20])
    return Sample({"company": company, "shares": str(shares)},
                  [("lookup_symbol", {"company": [company]}),
                   ("place_trade", {"symbol": [sym], "side": ["buy"], "shares": [shares]})])


INTENTS = [
    Intent("trading.quote", (
        "What's {symbol} trading at?",
        "Get me a quote for {symbol}.",
        "How much is one share of {symbol} right now?",
        "What's the current price of {symbol}?",
        "Check the stock price of {symbol}.",
        "Where is {symbol} trading today?",
        "Price check on {symbol}, please.",
        "Look up the latest {symbol} share price.",
    ), _quote),
    Intent("trading.buy", (
        "Buy {shares} shares of {symbol}{limit}.",
        "Purchase {shares} {symbol} shares{limit}.",
        "Place a buy order for {shares} shares of {symbol}{limit}.",
        "I want to buy {shares} shares in {symbol}{limit}.",
        "Get me {shares} shares of {symbol}{limit}.",
        "Pick up {shares} shares of {symbol} for my account{limit}.",
        "Add {shares} {symbol} shares to my portfolio by buying them{limit}.",
        "Go long {shares} shares of {symbol}{limit}.",
    ), _buy, missing={"shares": (
        "Buy some {symbol} shares{limit}.",
        "Purchase {symbol} stock for me{limit}.",
        "Place a buy order for {symbol}{limit}.",
        "I want to buy shares in {symbol}{limit}.",
        "Get me some {symbol}{limit}.",
        "Pick up {symbol} shares for my account{limit}.",
        "Add {symbol} to my portfolio by buying shares{limit}.",
        "Go long {symbol}{limit}.",
    )}),
    Intent("trading.sell", (
        "Sell {shares} shares of {symbol}.",
        "Dump {shares} of my {symbol} shares.",
        "Place a sell order for {shares} {symbol}.",
        "I want to sell {shares} shares of {symbol}.",
        "Get rid of {shares} {symbol} shares.",
        "Unload {shares} shares of {symbol} from my account.",
        "Cash out {shares} of my {symbol} shares.",
        "Sell off {shares} {symbol} shares, please.",
    ), _sell),
    Intent("trading.portfolio", (
        "Show me my portfolio.",
        "What's in my brokerage account?",
        "How much cash and stock do I have?",
        "List my holdings.",
        "Give me an overview of my investments.",
        "What stocks do I own right now?",
        "Summarize my portfolio, please.",
        "Display my positions and cash balance.",
    ), _portfolio),
    Intent("trading.watch", (
        "Add {symbols} to my watchlist.",
        "Put {symbols} on my watchlist.",
        "I want to keep an eye on {symbols}; add them to the watchlist.",
        "Watch {symbols} for me.",
        "Please track {symbols} in my watchlist.",
        "Start watching {symbols}.",
        "Include {symbols} in the watchlist.",
        "Follow {symbols} on my watchlist.",
    ), _watch),
    Intent("trading.cancel", (
        "Cancel my open order {order_id}.",
        "Please cancel trade {order_id}.",
        "Withdraw order {order_id}.",
        "Kill the pending order {order_id}.",
        "I don't want order {order_id} anymore; cancel it.",
        "Pull my order {order_id}.",
        "Cancel the unfilled order {order_id}.",
        "Drop order {order_id} from the book.",
    ), _cancel),
    Intent("trading.buy_company", (
        "Buy {shares} shares of {company}.",
        "Purchase {shares} {company} shares for me.",
        "I want {shares} shares of {company} stock.",
        "Get me {shares} shares in {company}.",
        "Invest in {company}: buy {shares} shares.",
        "Pick up {shares} shares of {company}.",
        "Please place an order for {shares} {company} shares.",
        "Add {shares} shares of {company} to my portfolio.",
    ), _buy_company),
]

OUT_OF_SCOPE = (
    "Should I invest in bonds or stocks?",
    "Show me a chart of the S&P 500 over five years.",
    "What's the dividend yield of my portfolio?",
    "Transfer my shares to another broker.",
    "Open a retirement account for me.",
    "Which stocks will go up tomorrow?",
    "Set up automatic monthly investing.",
    "What are the trading hours on public holidays?",
)
