"""A local fake of the Telegram bot API (getUpdates with offset confirmation, sendMessage) on 127.0.0.1.

Like Telegram, an update stays until a getUpdates asks for an offset past it: a poller that crashed
before its next poll is sent the same update again (what the cursor must protect against)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeBotAPI:
    def __init__(self, token: str) -> None:
        self.token = token
        self.updates: list[dict[str, Any]] = []
        self.sent: list[dict[str, Any]] = []
        self.offsets: list[int] = []
        self.menu: list[dict[str, str]] = []
        self.fail_next: list[int] = []  # HTTP statuses for the next calls
        self._next_id = 1000
        self._lock = threading.Condition()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                status, payload = fake.answer(self.path, body)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def answer(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        prefix = f"/bot{self.token}/"
        if not path.startswith(prefix):
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        with self._lock:
            if self.fail_next:
                status = self.fail_next.pop(0)
                return status, {"ok": False, "error_code": status, "description": "Bad Gateway"}
            method = path[len(prefix) :]
            if method == "getUpdates":
                offset = int(body.get("offset") or 0)
                self.offsets.append(offset)
                if offset:
                    self.updates = [u for u in self.updates if u["update_id"] >= offset]
                if not self.updates and body.get("timeout"):  # long poll: wait for a message
                    self._lock.wait_for(lambda: bool(self.updates), timeout=float(body["timeout"]))
                    self.updates = [u for u in self.updates if u["update_id"] >= offset]
                return 200, {"ok": True, "result": list(self.updates)}
            if method == "setMyCommands":
                self.menu = body["commands"]
                return 200, {"ok": True, "result": True}
            if method == "sendMessage":
                self.sent.append({"chat_id": body["chat_id"], "text": body["text"]})
                return 200, {"ok": True, "result": {"message_id": len(self.sent)}}
        return 404, {"ok": False, "error_code": 404, "description": "Not Found"}

    def say(
        self,
        chat_id: int,
        text: str,
        *,
        chat_type: str = "private",
        username: str = "someone",
        language: str = "ko",
    ) -> int:
        """A user's message to the bot; returns its update id."""
        with self._lock:
            self._next_id += 1
            self.updates.append(
                {
                    "update_id": self._next_id,
                    "message": {
                        "message_id": self._next_id,
                        "from": {
                            "id": chat_id,
                            "is_bot": False,
                            "username": username,
                            "language_code": language,
                        },
                        "chat": {"id": chat_id, "type": chat_type},
                        "date": 0,
                        "text": text,
                    },
                }
            )
            self._lock.notify_all()
            return self._next_id

    def replies(self, chat_id: int) -> list[str]:
        return [m["text"] for m in self.sent if m["chat_id"] == chat_id]
