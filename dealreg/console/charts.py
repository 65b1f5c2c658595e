"""A small chart drawn on the server, as inline SVG (no script): a partner's net payout per
deal, in the order the deals closed; a negative bar is money taken back."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from markupsafe import Markup, escape

#: The most recent deals drawn.
MOST = 12
WIDTH, HEIGHT, LABELS, WIDEST = 600, 200, 40, 60


@dataclass(frozen=True)
class Chart:
    svg: Markup
    currency: str
    #: Deals not drawn: in other currencies, or older than the :data:`MOST` drawn.
    left_out: int


def payout_bars(deals: list[dict[str, Any]]) -> Chart | None:
    """The chart of ``deals`` (as the API's partner endpoint lists them), in the currency
    most of them are paid in; None without a deal."""
    if not deals:
        return None
    currency = Counter(deal["net"]["currency"] for deal in deals).most_common(1)[0][0]
    drawn = sorted((deal for deal in deals if deal["net"]["currency"] == currency),
                   key=lambda deal: (deal["closed_at"] or "", deal["deal_id"]))[-MOST:]
    amounts = [Decimal(deal["net"]["amount"]) for deal in drawn]
    top, bottom = max([*amounts, Decimal(0)]), min([*amounts, Decimal(0)])
    scale = (HEIGHT - LABELS) / float(top - bottom or 1)
    zero = LABELS / 2 + float(top) * scale
    step = WIDTH / len(drawn)
    bar = min(step * 0.7, WIDEST)
    bars = []
    for index, (deal, amount) in enumerate(zip(drawn, amounts, strict=True)):
        x = index * step + (step - bar) / 2
        y, height = (zero - float(amount) * scale, float(amount) * scale) if amount >= 0 else (
            zero, -float(amount) * scale)
        kind = "bar" if amount >= 0 else "bar back"
        label = escape(f"{deal['deal_id']}: {format(amount, 'f')} {currency}")
        bars.append(
            f'<g><title>{label}</title><rect class="{kind}" x="{x:.1f}" y="{y:.1f}" '
            f'width="{bar:.1f}" height="{max(height, 1):.1f}"/>'
            f'<text x="{x + bar / 2:.1f}" y="{HEIGHT - 4}" text-anchor="middle">'
            f"{escape(_short(deal['deal_id']))}</text></g>")
    svg = Markup(  # noqa: S704 (every text in it is escaped above)
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="net payout per deal, in {escape(currency)}">'
        f'<line class="axis" x1="0" x2="{WIDTH}" y1="{zero:.1f}" y2="{zero:.1f}"/>'
        f"{''.join(bars)}</svg>")
    return Chart(svg, currency, len(deals) - len(drawn))


def _short(deal_id: str) -> str:
    return deal_id if len(deal_id) <= 10 else f"{deal_id[:9]}…"
