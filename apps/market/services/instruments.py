"""The stock master: instruments upserted from a KRX master file or from the broker's stock list."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from apps.broker.contract import InstrumentWarning
from apps.market import importers
from apps.market.models import Instrument, Market
from apps.market.services.bars import LoadResult
from krx.markets import Market as KrxMarket

if TYPE_CHECKING:
    from apps.broker.contract import Broker


def instruments_import_master(path: Path | str) -> LoadResult:
    """Upsert the stock master: name, market, board, sector, listing date and board flags."""
    frame = importers.read_master_file(path)
    now = timezone.now()
    objs = [
        Instrument(
            code=r.code,
            name=r.name,
            market=r.market,
            board=r.board,
            sector=r.sector,
            listing_date=r.listing_date,
            is_administrative=r.board.startswith("관리종목"),
            is_caution=r.board.startswith("투자주의환기"),
            updated_at=now,
        )
        for r in frame.itertuples(index=False)
    ]
    with transaction.atomic():
        before = Instrument.objects.count()
        Instrument.objects.bulk_create(
            objs,
            batch_size=2_000,
            update_conflicts=True,
            unique_fields=["code"],
            update_fields=[
                "name",
                "market",
                "board",
                "sector",
                "listing_date",
                "is_administrative",
                "is_caution",
                "updated_at",
            ],
        )
        created = Instrument.objects.count() - before
    return LoadResult(str(path), len(objs), len(objs), created)


def instruments_sync_from_broker(
    broker: Broker, markets: Sequence[str] = (KrxMarket.KOSPI, KrxMarket.KOSDAQ)
) -> LoadResult:
    """Upsert instruments from the broker's stock list, one call per market (KOSPI, KOSDAQ, KONEX).

    The broker's list is the live state, so it also sets the flags: 거래정지, 관리종목, the investor
    warning (투자유의) and NXT eligibility.
    """
    now = timezone.now()
    objs: dict[str, Instrument] = {}
    for market in markets:
        krx_market = KrxMarket(market)
        for item in broker.instruments(krx_market):
            objs[item.code] = Instrument(
                code=item.code,
                name=item.name,
                market=Market(str(item.market or krx_market)),
                sector=item.sector,
                listed_shares=item.listed_shares,
                listing_date=item.listing_date,
                is_halted=item.is_halted,
                is_administrative=item.is_administrative,
                is_caution=item.warning != InstrumentWarning.NONE,
                warning=str(item.warning),
                nxt_enabled=item.nxt_enabled,
                updated_at=now,
            )
    with transaction.atomic():
        before = Instrument.objects.count()
        Instrument.objects.bulk_create(
            list(objs.values()),
            batch_size=2_000,
            update_conflicts=True,
            unique_fields=["code"],
            update_fields=[
                "name",
                "market",
                "sector",
                "listed_shares",
                "listing_date",
                "is_halted",
                "is_administrative",
                "is_caution",
                "warning",
                "nxt_enabled",
                "updated_at",
            ],
        )
        created = Instrument.objects.count() - before
    return LoadResult("broker", len(objs), len(objs), created)
