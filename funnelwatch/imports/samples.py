"""Files shaped like real exports, for the tests and the benchmark.

:func:`opportunities` builds a data set of the public "CRM sales opportunities" shape
(Maven Analytics' B2B sales pipeline: ``accounts``, ``products``, ``sales_teams`` and
``sales_pipeline`` with ``opportunity_id, sales_agent, product, account, deal_stage,
engage_date, close_date, close_value``): agents, accounts, products, deals in Prospecting,
Engaging, Won and Lost, with the quirks of the original (a product spelled ``GTXPro`` in the
pipeline and ``GTX Pro`` in the product list; empty dates of prospects; no value on lost
deals).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import random

AGENTS = [
    ("Moses Frase", "Dustin Brinkmann", "Central"),
    ("Darcel Schlecht", "Melvin Marxen", "Central"),
    ("Anna Snelling", "Dustin Brinkmann", "Central"),
    ("Vicki Laflamme", "Celia Rouche", "West"),
    ("Rosalina Dieter", "Cara Losch", "East"),
    ("Garret Kinder", "Summer Sewald", "West"),
]
PRODUCTS = [("GTX Basic", 550), ("GTX Pro", 4821), ("MG Special", 55), ("GTK 500", 26768)]
ACCOUNTS = [
    "Acme Corporation", "Betasoloin", "Cheers", "Codehow", "Condax", "Dalttechnology",
    "Genco Pura Olas", "Hottechi", "Kan-code", "Rantouch",
]  # fmt: skip
MAPPING = {
    "columns": {
        "external_id": "opportunity_id",
        "owner": "sales_agent",
        "company": "account",
        "title": "product",
        "stage": "deal_stage",
        "created_at": "engage_date",
        "closed_at": "close_date",
        "amount": "close_value",
    },
    "stages": {"Prospecting": "open", "Engaging": "open", "Won": "won", "Lost": "lost"},
    "date_format": "%Y-%m-%d",
    "owners": "create",
}


def opportunities(
    n: int, seed: int = 7, start: dt.date = dt.date(2016, 10, 20)
) -> dict[str, bytes]:
    """The four files of the data set, as CSV bytes, with ``n`` opportunities."""
    rng = random.Random(seed)
    files = {}
    files["sales_teams.csv"] = _csv(
        ["sales_agent", "manager", "regional_office"], [list(a) for a in AGENTS]
    )
    files["products.csv"] = _csv(
        ["product", "series", "sales_price"], [[p, p.split()[0], price] for p, price in PRODUCTS]
    )
    files["accounts.csv"] = _csv(
        ["account", "sector", "year_established"],
        [
            [a, rng.choice(["retail", "software", "medical"]), 1980 + i]
            for i, a in enumerate(ACCOUNTS)
        ],
    )
    rows = []
    for i in range(n):
        agent = AGENTS[i % len(AGENTS)][0] if i < len(AGENTS) else rng.choice(AGENTS)[0]
        product, price = rng.choice(PRODUCTS)
        account = rng.choice(ACCOUNTS)
        # The same company spelled another way now and then, and no account on prospects.
        if rng.random() < 0.1:
            account = account.upper() + " Inc."
        stage = rng.choices(["Won", "Lost", "Engaging", "Prospecting"], [48, 30, 15, 7])[0]
        engage = start + dt.timedelta(days=rng.randrange(0, 400))
        close = engage + dt.timedelta(days=rng.randrange(1, 120))
        value = round(price * rng.uniform(0.9, 1.1)) if stage == "Won" else 0
        rows.append(
            [
                f"{rng.getrandbits(32):08X}{i:06d}",
                agent,
                "GTXPro" if product == "GTX Pro" else product,
                account,
                stage,
                "" if stage == "Prospecting" else engage.isoformat(),
                close.isoformat() if stage in ("Won", "Lost") else "",
                value if stage in ("Won", "Lost") else "",
            ]
        )
    files["sales_pipeline.csv"] = _csv(
        ["opportunity_id", "sales_agent", "product", "account", "deal_stage", "engage_date",
         "close_date", "close_value"],
        rows,
    )  # fmt: skip
    return files


def _csv(header: list[str], rows: list[list]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()
