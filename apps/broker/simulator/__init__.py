"""Kiwoom-compatible exchange simulator: the market/matching engine (exchange.py and friends)
and the protocol server speaking Kiwoom's REST + WebSocket wire format on top of it."""
