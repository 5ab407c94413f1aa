"""Framework-free Kiwoom REST + WebSocket client.

Owns everything that speaks Kiwoom's wire protocol: the shared token store and rate limiter (Redis),
the async REST and WebSocket clients, normalisation of Kiwoom's string encodings into typed values,
and the translation of Kiwoom's error envelope into our exception hierarchy. Nothing in here imports
Django; raw Kiwoom JSON never leaves the package.
"""
