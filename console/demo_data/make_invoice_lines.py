"""Write invoice_lines.jsonl, the demo's extraction data: synthetic invoice lines with their fields.

    python console/demo_data/make_invoice_lines.py

Every line is made up here from the lists below (no real invoice is in it), in one of several
layouts people write invoice lines in, some with a distracting SKU, discount or VAT note. Each line
carries its fields as character spans: ITEM, QUANTITY, UNIT_PRICE and AMOUNT (quantity times unit
price). The seed is fixed, so the same script always writes the same file.
"""

from __future__ import annotations

import json
import random
from decimal import Decimal
from pathlib import Path

SEED = 17
LINES = 300
OUT = Path(__file__).resolve().parent / "invoice_lines.jsonl"

# (item, typical unit price low, high)
ITEMS = [
    ("ergonomic office chair", 90, 420),
    ("standing desk", 250, 900),
    ("USB-C docking station", 60, 260),
    ("27-inch monitor", 140, 480),
    ("wireless keyboard", 20, 110),
    ("wireless mouse", 10, 70),
    ("laptop stand", 20, 90),
    ("noise-cancelling headset", 60, 320),
    ("A4 copy paper box", 18, 45),
    ("printer toner cartridge", 35, 160),
    ("whiteboard markers pack", 4, 18),
    ("desk lamp", 15, 95),
    ("filing cabinet", 80, 340),
    ("coffee beans 1kg bag", 12, 38),
    ("water cooler rental", 20, 60),
    ("HDMI cable 2m", 4, 20),
    ("external SSD 1TB", 60, 190),
    ("conference speakerphone", 90, 400),
    ("software licence seat", 8, 120),
    ("cloud storage plan", 5, 60),
    ("website hosting month", 10, 90),
    ("domain renewal", 8, 40),
    ("consulting hour", 70, 220),
    ("design workshop day", 600, 1800),
    ("translation page", 15, 45),
    ("office cleaning visit", 60, 240),
    ("courier delivery", 8, 45),
    ("safety gloves pair", 2, 12),
    ("hi-vis vest", 4, 15),
    ("steel toe boots", 45, 140),
    ("pallet of bottled water", 90, 260),
    ("team lunch catering", 120, 700),
    ("training course seat", 150, 950),
    ("business cards box", 15, 60),
    ("printed brochure", 1, 4),
    ("shipping carton", 1, 5),
    ("packing tape roll", 2, 7),
    ("label printer", 70, 260),
    ("barcode scanner", 50, 230),
    ("router", 60, 350),
]
CURRENCIES = [("EUR {} ", "prefix"), ("€", "symbol"), ("$", "symbol"), ("£", "symbol"), (" USD", "suffix")]


def money(value: Decimal, style: tuple[str, str]) -> str:
    number = f"{value:,.2f}"
    text, kind = style
    if kind == "prefix":
        return text.format(number).strip()
    if kind == "symbol":
        return text + number
    return number + text


def line(rng: random.Random) -> dict:
    item, low, high = rng.choice(ITEMS)
    quantity = rng.choice([1, 1, 2, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 24, 25, 50, 100])
    unit = Decimal(rng.randint(low * 100, high * 100)) / 100
    if rng.random() < 0.3:
        unit = unit.quantize(Decimal("1"))  # round prices are common
    style = rng.choice(CURRENCIES)
    q, u, a = str(quantity), money(unit, style), money(unit * quantity, style)
    sku = f"SKU {rng.randint(1000, 9999)}-{rng.choice('ABCDEFGH')}"
    layouts = [
        [(q, "QUANTITY"), " x ", (item, "ITEM"), " @ ", (u, "UNIT_PRICE"), " = ", (a, "AMOUNT")],
        [(item, "ITEM"), ", qty ", (q, "QUANTITY"), ", unit price ", (u, "UNIT_PRICE"), ", total ", (a, "AMOUNT")],
        [(q, "QUANTITY"), " ", (item, "ITEM"), " at ", (u, "UNIT_PRICE"), " each: ", (a, "AMOUNT")],
        ["Item: ", (item, "ITEM"), " | Qty: ", (q, "QUANTITY"), " | Price: ", (u, "UNIT_PRICE"),
         " | Amount: ", (a, "AMOUNT")],
        [sku, " ", (item, "ITEM"), " - ", (q, "QUANTITY"), " pcs x ", (u, "UNIT_PRICE"), " ", (a, "AMOUNT")],
        [(item, "ITEM"), " (", (q, "QUANTITY"), " units, ", (u, "UNIT_PRICE"), " per unit) line total ",
         (a, "AMOUNT")],
        [(a, "AMOUNT"), " for ", (q, "QUANTITY"), " x ", (item, "ITEM"), " at ", (u, "UNIT_PRICE"), " each"],
        [f"{rng.randint(1, 12)}. ", (item, "ITEM"), " ", (q, "QUANTITY"), " ", (u, "UNIT_PRICE"), " ",
         (a, "AMOUNT"), f" VAT {rng.choice([0, 7, 10, 19, 20])}%"],
    ]  # fmt: skip
    parts = rng.choice(layouts)
    if rng.random() < 0.15:
        parts = [*parts, f" (discount {rng.choice([5, 10, 15])}% applied at checkout)"]
    text, entities = "", []
    for part in parts:
        if isinstance(part, tuple):
            value, label = part
            entities.append({"start": len(text), "end": len(text) + len(value), "label": label})
            text += value
        else:
            text += part
    return {"text": text, "entities": entities}


def main() -> None:
    rng = random.Random(SEED)
    rows, seen = [], set()
    while len(rows) < LINES:
        row = line(rng)
        if row["text"] not in seen:
            seen.add(row["text"])
            rows.append(row)
    with OUT.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {OUT} ({len(rows)} lines)")


if __name__ == "__main__":
    main()
