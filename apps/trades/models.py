"""Orders, fills, positions and the trade log (seed 004 §9.1/§9.3/§9.4), and reconciliation runs.

- `Order`: one order intent and its life at the broker. The primary key is our client order id (UUID),
  committed before the broker is called. `status` moves only through `services.state` (every move writes
  an `OrderTransition`). An amend creates a child order (`parent`, `kind=amend`) because the broker gives
  the amended remainder a new order number whose cumulative fills start from zero again; the original goes
  to `replaced`. Split orders are children with `kind=split`.
- `OrderTransition`: the journal of one order's status changes (time, from, to, cause, broker message).
- `Fill`: one step of an order's cumulative filled quantity. Unique on (order, cum_quantity): the 00 frame
  and the ka10075/ka10076 poll describe the same step, so whichever arrives first writes it and the other
  is a no-op. Commission and tax are the step of the order's cumulative fees (`krx.fees.order_fees`).
- `Position`: what one account holds in one code, changed only by fills (same transaction). `reserved` is
  the quantity held by live sell orders (reserved under a row lock when a sell is submitted).
  `cost_amount`/`cost_fees` carry the buy amount and buy commission of the shares still held, so a round
  trip's P&L is exactly Σ sells − Σ buys − commissions − taxes, to the won.
- `Trade`: the trade log — one row per exit order (a partial exit is its own row), with the entry side's
  figures at the time of the exit.
- `ReconciliationRun`: one comparison with the broker, with both sides' numbers and what it did.

Money is integer KRW; prices of averages are Decimal (an average of integer prices need not be integer);
rates are Decimal; times are aware (UTC in the database).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

PRICE = {"max_digits": 14, "decimal_places": 2}


class Side(models.TextChoices):
    BUY = "buy", _("매수")
    SELL = "sell", _("매도")


class OrderType(models.TextChoices):
    LIMIT = "limit", _("지정가")
    MARKET = "market", _("시장가")
    BEST = "best", _("최유리지정가")


class Exchange(models.TextChoices):
    KRX = "KRX", "KRX"
    NXT = "NXT", "Nextrade"
    SOR = "SOR", "SOR"


class OrderStatus(models.TextChoices):
    NEW = "new", _("신규")
    SUBMITTED = "submitted", _("전송중")
    ACCEPTED = "accepted", _("접수됨")
    PARTIALLY_FILLED = "partially_filled", _("부분체결")
    FILLED = "filled", _("전량체결")
    CANCEL_PENDING = "cancel_pending", _("취소요청")
    CANCELLED = "cancelled", _("취소됨")
    REPLACED = "replaced", _("정정됨")
    REJECTED = "rejected", _("거부됨")
    UNKNOWN = "unknown", _("확인필요")
    EXPIRED = "expired", _("기간만료")


FINAL_STATUSES = frozenset(
    {
        OrderStatus.FILLED,
        OrderStatus.CANCELLED,
        OrderStatus.REPLACED,
        OrderStatus.REJECTED,
        OrderStatus.EXPIRED,
    }
)
# Live at the broker (or possibly so): what reconciliation and the close look at.
OPEN_STATUSES = frozenset(
    {
        OrderStatus.SUBMITTED,
        OrderStatus.ACCEPTED,
        OrderStatus.PARTIALLY_FILLED,
        OrderStatus.CANCEL_PENDING,
        OrderStatus.UNKNOWN,
    }
)


class OrderKind(models.TextChoices):
    SINGLE = "single", _("일반")
    SPLIT = "split", _("분할")
    AMEND = "amend", _("정정")


class Cause(models.TextChoices):
    SIGNAL = "signal", _("전략 신호")
    USER = "user", _("수동")
    RISK = "risk", _("리스크 청산")
    LIQUIDATION = "liquidation", _("일괄 청산")
    SYSTEM = "system", _("시스템")


class FillSource(models.TextChoices):
    REALTIME = "realtime", _("실시간(00)")
    POLL = "poll", _("조회(ka10075/ka10076)")
    RECONCILE = "reconcile", _("대사")


class SplitMode(models.TextChoices):
    TIME = "time", _("시간 분할")
    DEPTH = "depth", _("호가 잔량 분할")


class SplitStatus(models.TextChoices):
    RUNNING = "running", _("진행중")
    CANCELLING = "cancelling", _("취소중")
    FILLED = "filled", _("전량체결")
    COMPLETED = "completed", _("종료(잔량 있음)")
    CANCELLED = "cancelled", _("취소됨")


SPLIT_OPEN_STATUSES = frozenset({SplitStatus.RUNNING, SplitStatus.CANCELLING})


class SplitOrder(models.Model):
    """A parent order sent as child orders over time or by book depth (`services.split`).

    The parent never goes to the broker itself: its children are ordinary `Order` rows (`split` points
    here, `split_index` numbers them; an amend child carries the same two) created and claimed like any
    order. The schedule lives here, so a worker that dies resumes it from the next sweep. `filled_*`,
    `commission`, `tax` and `slippage` aggregate the children's (refreshed by every step and on read).
    """

    id = models.UUIDField(_("분할 주문 ID"), primary_key=True, default=uuid.uuid4, editable=False)
    account_no = models.CharField(_("계좌"), max_length=20, db_index=True)
    code = models.CharField(_("종목코드"), max_length=12)
    name = models.CharField(_("종목명"), max_length=50, blank=True)
    market = models.CharField(_("시장"), max_length=8, default="KOSPI")
    side = models.CharField(_("매매구분"), max_length=4, choices=Side.choices)
    mode = models.CharField(_("분할 방식"), max_length=8, choices=SplitMode.choices)
    quantity = models.PositiveIntegerField(_("총 주문수량"))
    # The children's limit: the trader's price, or the slippage cap's price (None: market children).
    limit_price = models.BigIntegerField(_("한도 가격"), null=True, blank=True)
    reference_price = models.BigIntegerField(_("기준가격"), null=True, blank=True)
    slippage_cap_pct = models.DecimalField(
        _("슬리피지 한도(%)"), max_digits=6, decimal_places=3, null=True, blank=True
    )
    parts = models.PositiveIntegerField(_("자식 주문 수(최대)"))
    interval_seconds = models.PositiveIntegerField(_("간격(초)"), default=0)
    chase_seconds = models.PositiveIntegerField(_("정정까지 대기(초)"), default=30)
    chase_max_amends = models.PositiveIntegerField(_("최대 정정 횟수"), default=3)
    chase_ticks = models.PositiveIntegerField(_("정정 틱 수"), default=1)
    status = models.CharField(
        _("상태"), max_length=12, choices=SplitStatus.choices, default=SplitStatus.RUNNING
    )
    children_sent = models.PositiveIntegerField(_("보낸 자식 주문"), default=0)
    # Exchange-clock times: when the next child may go, when the live child was last sent/amended.
    next_at = models.DateTimeField(_("다음 자식 주문"), null=True, blank=True)
    child_at = models.DateTimeField(_("현재 자식 주문 시각"), null=True, blank=True)
    lease_until = models.DateTimeField(_("처리 점유"), null=True, blank=True)  # wall clock
    filled_quantity = models.PositiveIntegerField(_("체결수량"), default=0)
    filled_amount = models.BigIntegerField(_("체결금액"), default=0)
    avg_fill_price = models.DecimalField(_("평균체결가"), null=True, blank=True, **PRICE)
    commission = models.BigIntegerField(_("수수료"), default=0)
    tax = models.BigIntegerField(_("세금"), default=0)
    slippage = models.BigIntegerField(_("슬리피지(원)"), null=True, blank=True)
    strategy_tag = models.CharField(_("전략 태그"), max_length=50, blank=True)
    cause = models.CharField(_("원인"), max_length=12, choices=Cause.choices, default=Cause.USER)
    cause_ref = models.CharField(_("원인 참조"), max_length=64, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("요청자"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    idempotency_key = models.CharField(
        _("멱등 키"), max_length=100, null=True, blank=True, unique=True
    )
    message = models.CharField(_("메시지"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("생성"), auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(_("종료"), null=True, blank=True)
    updated_at = models.DateTimeField(_("갱신"), auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("분할 주문")
        verbose_name_plural = _("분할 주문")
        indexes = [models.Index(fields=["status"])]

    def __str__(self) -> str:
        return f"split {self.side} {self.code} {self.quantity} x{self.parts} [{self.status}]"

    @property
    def remaining(self) -> int:
        return self.quantity - self.filled_quantity

    @property
    def is_open(self) -> bool:
        return self.status in SPLIT_OPEN_STATUSES


class Order(models.Model):
    id = models.UUIDField(_("주문 ID"), primary_key=True, default=uuid.uuid4, editable=False)
    account_no = models.CharField(_("계좌"), max_length=20)  # indexed with code/side/status
    code = models.CharField(_("종목코드"), max_length=12)
    name = models.CharField(_("종목명"), max_length=50, blank=True)
    market = models.CharField(_("시장"), max_length=8, default="KOSPI")
    side = models.CharField(_("매매구분"), max_length=4, choices=Side.choices)
    order_type = models.CharField(
        _("주문유형"), max_length=10, choices=OrderType.choices, default=OrderType.LIMIT
    )
    exchange = models.CharField(
        _("거래소"), max_length=4, choices=Exchange.choices, default=Exchange.KRX
    )
    quantity = models.PositiveIntegerField(_("주문수량"))
    price = models.BigIntegerField(_("주문가격"), null=True, blank=True)  # None: market/best
    filled_quantity = models.PositiveIntegerField(_("체결수량"), default=0)
    filled_amount = models.BigIntegerField(_("체결금액"), default=0)  # cumulative, KRW
    avg_fill_price = models.DecimalField(_("평균체결가"), null=True, blank=True, **PRICE)
    commission = models.BigIntegerField(_("수수료"), default=0)  # cumulative, KRW
    tax = models.BigIntegerField(_("세금"), default=0)  # cumulative, KRW
    reserved_quantity = models.PositiveIntegerField(
        _("매도예약수량"), default=0, help_text=_("이 주문이 잡고 있는 매도가능수량")
    )
    status = models.CharField(
        _("상태"), max_length=20, choices=OrderStatus.choices, default=OrderStatus.NEW
    )
    broker_order_no = models.CharField(_("주문번호"), max_length=20, blank=True)
    original_order_no = models.CharField(_("원주문번호"), max_length=20, blank=True)
    kind = models.CharField(
        _("종류"), max_length=8, choices=OrderKind.choices, default=OrderKind.SINGLE
    )
    parent = models.ForeignKey(
        "self",
        verbose_name=_("상위 주문"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    split = models.ForeignKey(
        SplitOrder,
        verbose_name=_("분할 주문"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="orders",
    )
    split_index = models.PositiveIntegerField(_("분할 순번"), null=True, blank=True)
    strategy_tag = models.CharField(_("전략 태그"), max_length=50, blank=True)
    cause = models.CharField(_("원인"), max_length=12, choices=Cause.choices, default=Cause.USER)
    cause_ref = models.CharField(
        _("원인 참조"), max_length=64, blank=True, help_text=_("신호 ID, 리스크 규칙 등")
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("요청자"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    idempotency_key = models.CharField(_("멱등 키"), max_length=100, null=True, blank=True)
    reference_price = models.BigIntegerField(_("기준가격"), null=True, blank=True)
    slippage_cap_pct = models.DecimalField(
        _("슬리피지 한도(%)"), max_digits=6, decimal_places=3, null=True, blank=True
    )
    slippage = models.BigIntegerField(
        _("슬리피지(원)"),
        null=True,
        blank=True,
        help_text=_("기준가 대비 불리한 방향의 체결 금액 차이 (양수 = 불리)"),
    )
    message = models.CharField(_("브로커 메시지"), max_length=300, blank=True)
    news_score = models.IntegerField(_("뉴스 점수"), null=True, blank=True)
    volume_rank = models.IntegerField(_("거래대금 순위"), null=True, blank=True)
    created_at = models.DateTimeField(_("생성"), auto_now_add=True, db_index=True)
    submitted_at = models.DateTimeField(_("전송"), null=True, blank=True)
    accepted_at = models.DateTimeField(_("접수 시각"), null=True, blank=True)
    finished_at = models.DateTimeField(_("종료"), null=True, blank=True)
    updated_at = models.DateTimeField(_("갱신"), auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("주문")
        verbose_name_plural = _("주문")
        # Every index is paid on each order insert (the latency-critical statement): no
        # `varchar_pattern_ops` twins (nothing searches these with LIKE '...%'), and account_no
        # alone is the composite's prefix.
        indexes = [
            models.Index(fields=["account_no", "code", "side", "status"]),
            models.Index(fields=["status"]),
            models.Index(fields=["broker_order_no"], name="trades_order_broker_no_idx"),
            # The risk snapshot (under the account lock, on every order) reads the account's live
            # orders: without this it reads every order of the account, a cost that grows through
            # the day (0.25 ms of the order's transaction at 2,300 orders). Its entries of the last
            # minute use the created_at index.
            models.Index(
                fields=["account_no"],
                condition=models.Q(
                    status__in=[
                        "new",
                        "submitted",
                        "accepted",
                        "partially_filled",
                        "cancel_pending",
                        "unknown",
                    ]
                ),
                name="trades_order_live_idx",
            ),
            # The orders list filtered by code (newest first): without it a code's page scanned
            # created_at backwards through every other code's orders (issue 17).
            models.Index(fields=["code", "created_at"], name="trades_order_code_created_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["idempotency_key"], name="trades_order_idem_key_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.side} {self.code} {self.quantity}@{self.price or '-'} [{self.status}]"

    @property
    def remaining(self) -> int:
        return self.quantity - self.filled_quantity

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES


class OrderTransition(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="transitions")
    at = models.DateTimeField(_("시각"), auto_now_add=True)
    from_status = models.CharField(_("이전"), max_length=20, choices=OrderStatus.choices)
    to_status = models.CharField(_("이후"), max_length=20, choices=OrderStatus.choices)
    cause = models.CharField(_("원인"), max_length=100, blank=True)
    message = models.CharField(_("브로커 메시지"), max_length=300, blank=True)

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("주문 상태 변경")
        verbose_name_plural = _("주문 상태 변경")

    def __str__(self) -> str:
        return f"{self.from_status} → {self.to_status}"


class Fill(models.Model):
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="fills")
    # The order's code, copied on save: the fills list filtered by code reads its own index instead of
    # joining a million orders (issue 17).
    code = models.CharField(_("종목코드"), max_length=12, blank=True, default="")
    cum_quantity = models.PositiveIntegerField(_("누적체결수량"))
    quantity = models.PositiveIntegerField(_("체결수량"))
    price = models.DecimalField(_("체결가"), **PRICE)
    amount = models.BigIntegerField(_("체결금액"))
    cum_amount = models.BigIntegerField(_("누적체결금액"))
    execution_no = models.CharField(_("체결번호"), max_length=20, null=True, blank=True)
    source = models.CharField(_("출처"), max_length=10, choices=FillSource.choices)
    commission = models.BigIntegerField(_("수수료"), default=0)
    tax = models.BigIntegerField(_("세금"), default=0)
    executed_at = models.DateTimeField(_("체결시각"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["executed_at", "id"]
        verbose_name = _("체결 내역")
        verbose_name_plural = _("체결 내역")
        # The fills list (newest first, optionally of one code) is a backward scan of one of these.
        indexes = [
            models.Index(fields=["executed_at", "id"], name="trades_fill_executed_idx"),
            models.Index(
                fields=["code", "executed_at", "id"], name="trades_fill_code_executed_idx"
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["order", "cum_quantity"], name="trades_fill_step_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.order_id} +{self.quantity}@{self.price} (→{self.cum_quantity})"

    def save(self, *args: object, **kwargs: object) -> None:
        if not self.code and self.order_id is not None:
            self.code = self.order.code
        super().save(*args, **kwargs)  # type: ignore[arg-type]


class Position(models.Model):
    account_no = models.CharField(_("계좌"), max_length=20)
    code = models.CharField(_("종목코드"), max_length=12)
    name = models.CharField(_("종목명"), max_length=50, blank=True)
    market = models.CharField(_("시장"), max_length=8, default="KOSPI")
    quantity = models.PositiveIntegerField(_("보유수량"), default=0)
    reserved = models.PositiveIntegerField(_("매도예약"), default=0)
    avg_price = models.DecimalField(_("평균매입가"), default=0, **PRICE)
    cost_amount = models.BigIntegerField(_("매입금액"), default=0)
    cost_fees = models.BigIntegerField(_("매입수수료"), default=0)
    realized_pnl = models.BigIntegerField(_("실현손익"), default=0)
    current_price = models.BigIntegerField(_("현재가"), null=True, blank=True)
    stop_price = models.BigIntegerField(_("손절가"), null=True, blank=True)
    entry_time = models.DateTimeField(_("최초 진입"), null=True, blank=True)
    strategy_tag = models.CharField(_("전략 태그"), max_length=50, blank=True)
    news_score = models.IntegerField(_("진입 뉴스 점수"), null=True, blank=True)
    volume_rank = models.IntegerField(_("진입 거래대금 순위"), null=True, blank=True)
    updated_at = models.DateTimeField(_("갱신"), auto_now=True)

    class Meta:
        ordering = ["account_no", "code"]
        verbose_name = _("보유 종목")
        verbose_name_plural = _("보유 종목")
        constraints = [
            models.UniqueConstraint(fields=["account_no", "code"], name="trades_position_uniq"),
            models.CheckConstraint(
                condition=models.Q(reserved__lte=models.F("quantity")),
                name="trades_position_reserved_lte_qty",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account_no} {self.code} {self.quantity}"

    @property
    def sellable(self) -> int:
        return self.quantity - self.reserved

    @property
    def unrealized_pnl(self) -> int | None:
        """Mark-to-market before exit costs: current value − cost of the shares held (None without a price)."""
        if self.current_price is None or not self.quantity:
            return None
        return self.current_price * self.quantity - self.cost_amount - self.cost_fees


class Trade(models.Model):
    """seed 004 §9.1 trade_log, plus commission and tax."""

    id = models.UUIDField(_("거래 ID"), primary_key=True, default=uuid.uuid4, editable=False)
    account_no = models.CharField(_("계좌"), max_length=20, db_index=True)
    date = models.DateField(_("거래일"), db_index=True)
    market = models.CharField(_("시장"), max_length=4, default="KR")
    code = models.CharField(_("종목코드"), max_length=10, db_index=True)
    name = models.CharField(_("종목명"), max_length=50, blank=True)
    side = models.CharField(_("방향"), max_length=4, choices=Side.choices, default=Side.BUY)
    entry_time = models.DateTimeField(_("진입 시간"), null=True, blank=True)
    exit_time = models.DateTimeField(_("청산 시간"))
    entry_price = models.DecimalField(_("진입 가격"), **PRICE)
    exit_price = models.DecimalField(_("청산 가격"), **PRICE)
    quantity = models.PositiveIntegerField(_("수량"))
    entry_amount = models.BigIntegerField(_("매입금액"), default=0)
    exit_amount = models.BigIntegerField(_("매도금액"), default=0)
    pnl = models.BigIntegerField(_("실현손익"))
    pnl_pct = models.DecimalField(_("수익률(%)"), max_digits=9, decimal_places=4)
    commission = models.BigIntegerField(_("수수료"), default=0)
    tax = models.BigIntegerField(_("세금"), default=0)
    news_score = models.IntegerField(_("뉴스 점수"), null=True, blank=True)
    volume_rank = models.IntegerField(_("거래대금 순위"), null=True, blank=True)
    strategy_tag = models.CharField(_("전략 태그"), max_length=50, blank=True, db_index=True)
    exit_order = models.OneToOneField(
        Order,
        verbose_name=_("청산 주문"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="trade",
    )
    closed_position = models.BooleanField(_("전량 청산"), default=False)
    created_at = models.DateTimeField(_("기록"), auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-exit_time"]
        verbose_name = _("거래 기록")
        verbose_name_plural = _("거래 기록")
        # The trade log's sorts (listing.TRADE_SORTS): a page is an index scan, not a sort of every row.
        indexes = [
            models.Index(fields=["exit_time"], name="trades_trade_exit_time_idx"),
            models.Index(fields=["pnl", "exit_time"], name="trades_trade_pnl_idx"),
            models.Index(fields=["pnl_pct", "exit_time"], name="trades_trade_pnl_pct_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.quantity} pnl={self.pnl}"


class ReconcileTrigger(models.TextChoices):
    STARTUP = "startup", _("시작")
    SCHEDULE = "schedule", _("주기")
    RECONNECT = "reconnect", _("재연결")
    MANUAL = "manual", _("수동")


class ReconciliationRun(models.Model):
    account_no = models.CharField(_("계좌"), max_length=20)
    trigger = models.CharField(_("계기"), max_length=10, choices=ReconcileTrigger.choices)
    started_at = models.DateTimeField(_("시작"), auto_now_add=True)
    finished_at = models.DateTimeField(_("종료"), null=True, blank=True)
    ok = models.BooleanField(_("일치"), default=True)
    resolved_orders = models.IntegerField(_("확인된 주문"), default=0)
    inserted_fills = models.IntegerField(_("추가된 체결"), default=0)
    # [{code, local, broker}] for every code whose quantities differ after the run.
    differences = models.JSONField(_("차이"), default=list, blank=True)
    local_positions = models.JSONField(_("로컬 보유"), default=dict, blank=True)
    broker_positions = models.JSONField(_("브로커 보유"), default=dict, blank=True)
    gate_closed = models.BooleanField(_("매매 차단"), default=False)
    error = models.TextField(_("오류"), blank=True)

    class Meta:
        ordering = ["-started_at"]
        verbose_name = _("대사")
        verbose_name_plural = _("대사")

    def __str__(self) -> str:
        return f"{self.trigger} {self.started_at:%Y-%m-%d %H:%M} ok={self.ok}"
