"""Banking: accounts, balances, transfers, bill payments and transaction history."""

from __future__ import annotations

import datetime
import random
from typing import Annotated, Any, Literal

from envs.api import Schema, SimulatedAPI, ToolError, find_key, readonly
from envs.intents import Intent, Sample, maybe, opt, people, pick, rand_date, say_date, say_money

AccountType = Literal["checking", "savings", "credit"]
ENTITIES = {
    "train": {"payees": ["City Power", "Metro Water", "FastNet Internet", "Green Gas Co", "Sunrise Insurance",
                         "Northside Gym", "StreamFlix", "Mobile One"]},
    "test": {"payees": ["Bright Energy", "ClearWave Broadband", "Harbor Mutual", "Peak Fitness", "TuneBox"]},
}


class BankingAPI(SimulatedAPI):
    """The user's bank: accounts of several owners, payees and a transaction ledger."""

    domain = "banking"

    @classmethod
    def default_state(cls, rng: random.Random) -> dict[str, Any]:
        return build_state(rng, "train")

    def _account(self, account_id: str) -> tuple[str, dict[str, Any]]:
        key = find_key(self.s["accounts"], account_id, "account")
        return key, self.s["accounts"][key]

    def _post(self, account: str, amount: float, description: str) -> int:
        txn_id = self.s["next_txn"]
        self.s["next_txn"] += 1
        self.s["transactions"].append({"id": txn_id, "account": account, "amount": round(amount, 2),
                                       "description": description})
        return txn_id

    @readonly
    def get_balance(self, account_id: str) -> dict[str, Any]:
        """Gets the current balance of an account.

        Args:
            account_id: The account number, e.g. "CHK-1042".
        """
        key, acct = self._account(account_id)
        return {"account_id": key, "balance": acct["balance"], "currency": "USD"}

    @readonly
    def find_account(self, owner: str, account_type: AccountType = "checking") -> dict[str, Any]:
        """Finds the account number of an owner's account of a given type.

        Args:
            owner: The account holder's full name.
            account_type: Which of the owner's accounts.
        """
        for key, acct in self.s["accounts"].items():
            if acct["owner"].casefold() == owner.strip().casefold() and acct["type"] == account_type:
                return {"account_id": key, "owner": acct["owner"], "account_type": account_type}
        raise ToolError(f"{owner!r} has no {account_type} account")

    def transfer_funds(
        self, from_account: str, to_account: str, amount: Annotated[float, Schema(minimum=0.01)], memo: str = ""
    ) -> dict[str, Any]:
        """Moves money between two accounts.

        Args:
            from_account: Account number to take the money from.
            to_account: Account number to send the money to.
            amount: Amount in USD.
            memo: A note stored with the transfer.
        """
        src_key, src = self._account(from_account)
        dst_key, dst = self._account(to_account)
        if src_key == dst_key:
            raise ToolError("cannot transfer to the same account")
        if src["type"] != "credit" and src["balance"] < amount:
            raise ToolError(f"insufficient funds in {src_key}: balance {src['balance']}")
        src["balance"] = round(src["balance"] - amount, 2)
        dst["balance"] = round(dst["balance"] + amount, 2)
        self._post(src_key, -amount, memo or f"transfer to {dst_key}")
        txn = self._post(dst_key, amount, memo or f"transfer from {src_key}")
        return {"transaction_id": txn, "from_balance": src["balance"], "to_balance": dst["balance"]}

    def pay_bill(
        self,
        account_id: str,
        payee: str,
        amount: Annotated[float, Schema(minimum=0.01)],
        pay_on: datetime.date | None = None,
    ) -> dict[str, Any]:
        """Pays a registered payee now, or schedules the payment for a date.

        Args:
            account_id: Account number to pay from.
            payee: Name of the registered payee, e.g. "City Power".
            amount: Amount in USD.
            pay_on: Date to pay on; pays immediately when omitted.
        """
        key, acct = self._account(account_id)
        name = find_key(self.s["payees"], payee, "payee")
        if pay_on is not None:
            self.s["scheduled"].append({"account": key, "payee": name, "amount": amount, "date": pay_on.isoformat()})
            return {"status": "scheduled", "payee": name, "date": pay_on.isoformat()}
        if acct["type"] != "credit" and acct["balance"] < amount:
            raise ToolError(f"insufficient funds in {key}: balance {acct['balance']}")
        acct["balance"] = round(acct["balance"] - amount, 2)
        txn = self._post(key, -amount, f"bill payment to {name}")
        return {"status": "paid", "payee": name, "transaction_id": txn, "balance": acct["balance"]}

    @readonly
    def list_transactions(
        self,
        account_id: str,
        limit: Annotated[int, Schema(minimum=1, maximum=50)] = 5,
        kind: Literal["all", "debit", "credit"] = "all",
    ) -> list[dict[str, Any]]:
        """Lists an account's most recent transactions, newest first.

        Args:
            account_id: The account number.
            limit: How many transactions to return.
            kind: Only money out ("debit"), only money in ("credit"), or both.
        """
        key, _ = self._account(account_id)
        rows = [dict(t) for t in reversed(self.s["transactions"]) if t["account"] == key
                and (kind == "all" or (t["amount"] < 0) == (kind == "debit"))]
        return rows[:limit]


def build_state(rng: random.Random, split: str) -> dict[str, Any]:
    """A world: two owners with checking and savings accounts, payees, a short ledger."""
    accounts = {}
    for owner in people(rng, split, 2):
        for kind, prefix in (("checking", "CHK"), ("savings", "SAV")):
            key = f"{prefix}-{rng.randrange(1000, 9999)}"
            accounts[key] = {"owner": owner, "type": kind, "balance": float(rng.randrange(800, 9000))}
    payees = {p: {"category": "bills"} for p in rng.sample(ENTITIES[split]["payees"], 3)}
    state = {"accounts": accounts, "payees": payees, "transactions": [], "scheduled": [],
             "next_txn": rng.randrange(100, 900)}
    api = BankingAPI(state)
    for key in accounts:
        api._post(key, float(rng.randrange(20, 200)), "deposit")
    return state


# ---------------------------------------------------------------------------------------------------
# What users ask
# ---------------------------------------------------------------------------------------------------


def _amount(rng: random.Random, balance: float) -> float:
    return float(rng.choice([20, 25, 40, 50, 75, 100, 120, 150, 200, 250, 300, 500]) if rng.random() < 0.8
                 else round(rng.uniform(5, min(balance / 4, 400)), 2))


def _balance(rng: random.Random, s: dict[str, Any], split: str) -> Sample:
    key = rng.choice(list(s["accounts"]))
    return Sample({"account_id": key}, [("get_balance", {"account_id": [key]})])


def _transfer(rng: random.Random, s: dict[str, Any], split: str) -> Sample:
    src, dst = rng.sample(list(s["accounts"]), 2)
    amount = _amount(rng, s["accounts"][src]["balance"])
    memo = rng.choice(["rent", "groceries", "savings", "birthday gift", "car repair"])
    memo_text, memo_value = maybe(rng, 0.3, {memo: [f" with the memo '{memo}'", f" and note it as '{memo}'"]})
    return Sample({"from_account": src, "to_account": dst, "amount": say_money(rng, amount), "memo": memo_text},
                  [("transfer_funds", opt({"from_account": [src], "to_account": [dst], "amount": [amount]},
                                          "memo", memo_value))])


def _pay_bill(rng: random.Random, s: dict[str, Any], split: str) -> Sample:
    key = rng.choice(list(s["accounts"]))
    payee = rng.choice(list(s["payees"]))
    amount = _amount(rng, s["accounts"][key]["balance"])
    day = rand_date(rng, 400)
    when_text, when = maybe(rng, 0.4, {day: [f" on {say_date(rng, day)}"]})
    return Sample({"account_id": key, "payee": payee, "amount": say_money(rng, amount), "when": when_text},
                  [("pay_bill", opt({"account_id": [key], "payee": [payee], "amount": [amount]}, "pay_on", when))])


def _transactions(rng: random.Random, s: dict[str, Any], split: str) -> Sample:
    key = rng.choice(list(s["accounts"]))
    n = rng.choice([3, 5, 10, 20])
    kind_text, kind = maybe(rng, 0.3, {"debit": [" outgoing"], "credit": [" incoming"]})
    return Sample({"account_id": key, "limit": str(n), "kind": kind_text},
                  [("list_transactions", opt({"account_id": [key], "limit": [n]}, "kind", kind))])


def _owner_balance(rng: random.Random, s: dict[str, Any], split: str) -> Sample:
    key = rng.choice(list(s["accounts"]))
    acct = s["accounts"][key]
    return Sample({"owner": acct["owner"], "account_type": acct["type"]},
                  [("find_account", {"owner": [acct["owner"]], "account_type": [acct["type"]]}),
                   ("get_balance", {"account_id": [key]})])


def _owner_transactions(rng: random.Random, s: dict[str, Any], split: str) -> Sample:
    key = pick(rng, [k for k, a in s["accounts"].items() if a["type"] == "checking"], "no checking account")
    owner = s["accounts"][key]["owner"]
    n = rng.choice([3, 5, 10])
    return Sample({"owner": owner, "limit": str(n)},
                  [("find_account", {"owner": [owner], "account_type": ["checking"]}),
                   ("list_transactions", {"account_id": [key], "limit": [n]})])


INTENTS = [
    Intent("banking.balance", (
        "What's the balance of account {account_id}?",
        "How much money is in {account_id}?",
        "Check the balance on {account_id} for me.",
        "Can you tell me what's left in account {account_id}?",
        "Show me the current balance of {account_id}.",
        "I'd like to know how much is in {account_id}.",
        "Balance of {account_id}, please.",
        "How much do I have in account {account_id} right now?",
    ), _balance),
    Intent("banking.transfer", (
        "Transfer {amount} from {from_account} to {to_account}{memo}.",
        "Move {amount} from account {from_account} to account {to_account}{memo}.",
        "Please send {amount} from {from_account} to {to_account}{memo}.",
        "I want to transfer {amount} out of {from_account} into {to_account}{memo}.",
        "Put {amount} from {from_account} into {to_account}{memo}.",
        "Shift {amount} from {from_account} over to {to_account}{memo}.",
        "Can you wire {amount} from {from_account} to {to_account}{memo}?",
        "Take {amount} out of {from_account} and deposit it in {to_account}{memo}.",
    ), _transfer, missing={"amount": (
        "Transfer some money from {from_account} to {to_account}{memo}.",
        "Move money from account {from_account} to account {to_account}{memo}.",
        "Please send funds from {from_account} to {to_account}{memo}.",
        "I want to transfer money out of {from_account} into {to_account}{memo}.",
        "Put some cash from {from_account} into {to_account}{memo}.",
        "Shift money from {from_account} over to {to_account}{memo}.",
        "Can you wire funds from {from_account} to {to_account}{memo}?",
        "Take money out of {from_account} and deposit it in {to_account}{memo}.",
    )}),
    Intent("banking.pay_bill", (
        "Pay {amount} to {payee} from account {account_id}{when}.",
        "Use {account_id} to pay my {payee} bill of {amount}{when}.",
        "Please pay {payee} {amount} from {account_id}{when}.",
        "Send a payment of {amount} to {payee} out of {account_id}{when}.",
        "Settle the {payee} bill, {amount}, from {account_id}{when}.",
        "I owe {payee} {amount}; pay it from {account_id}{when}.",
        "Make a {amount} payment to {payee} using account {account_id}{when}.",
        "Pay the {amount} {payee} invoice from {account_id}{when}.",
    ), _pay_bill, missing={"amount": (
        "Pay my {payee} bill from account {account_id}{when}.",
        "Use {account_id} to pay {payee}{when}.",
        "Please pay {payee} from {account_id}{when}.",
        "Send a payment to {payee} out of {account_id}{when}.",
        "Settle the {payee} bill from {account_id}{when}.",
        "I owe {payee} money; pay it from {account_id}{when}.",
        "Make a payment to {payee} using account {account_id}{when}.",
        "Pay the {payee} invoice from {account_id}{when}.",
    )}),
    Intent("banking.transactions", (
        "Show the last {limit}{kind} transactions on {account_id}.",
        "List my {limit} most recent{kind} transactions for account {account_id}.",
        "What were the last {limit}{kind} transactions in {account_id}?",
        "Pull up {limit} recent{kind} transactions from {account_id}.",
        "Give me the latest {limit}{kind} transactions of account {account_id}.",
        "I need to see the last {limit}{kind} transactions on {account_id}.",
        "Display {account_id}'s {limit} newest{kind} transactions.",
        "Fetch the {limit} latest{kind} transactions for {account_id}.",
    ), _transactions),
    Intent("banking.owner_balance", (
        "What's the balance of {owner}'s {account_type} account?",
        "How much money does {owner} have in their {account_type} account?",
        "Check {owner}'s {account_type} balance.",
        "Find {owner}'s {account_type} account and tell me its balance.",
        "Look up the balance on the {account_type} account of {owner}.",
        "I'd like to see how much is in {owner}'s {account_type} account.",
        "Tell me the {account_type} balance for {owner}.",
        "How much is left in the {account_type} account that {owner} holds?",
    ), _owner_balance),
    Intent("banking.owner_transactions", (
        "Show the last {limit} transactions on {owner}'s checking account.",
        "List {owner}'s {limit} most recent checking transactions.",
        "What are the latest {limit} transactions in the checking account of {owner}?",
        "Find {owner}'s checking account and show me {limit} recent transactions.",
        "Pull up the last {limit} checking transactions for {owner}.",
        "I need the {limit} newest transactions on {owner}'s checking account.",
        "Give me {limit} recent transactions from the checking account {owner} holds.",
        "Display {owner}'s last {limit} checking transactions.",
    ), _owner_transactions),
]

OUT_OF_SCOPE = (
    "Open a new savings account for me.",
    "Increase the limit on my credit card.",
    "What's the current mortgage interest rate?",
    "Order a new debit card; mine is damaged.",
    "Dispute a charge I don't recognize.",
    "Can I get a personal loan?",
    "Change the PIN on my card.",
    "Close my checking account.",
)
