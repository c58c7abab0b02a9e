"""Local stand-ins of the outside services: a server that speaks the Telegram Bot API
(getMe, setWebhook, sendMessage) and Twilio's Messages API, recording what it was sent."""

from __future__ import annotations

import base64
import itertools
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

TOKEN = "123456:TEST-token-AAAAAAAAAAAAAAAAAAAA"


class StandIn:
    def __init__(self) -> None:
        self.calls: list[dict] = []
        self.fail_next = False
        self._ids = itertools.count(500)
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("Content-Type", "").startswith("application/json"):
                    body = json.loads(raw or b"{}")
                else:
                    body = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
                call = {"path": self.path, "body": body, "auth": self.headers.get("Authorization")}
                outer.calls.append(call)
                status, answer = outer.answer(self.path, body, call["auth"])
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def answer(self, path: str, body: dict, auth: str | None) -> tuple[int, dict]:
        if self.fail_next:
            self.fail_next = False
            return 400, {"ok": False, "description": "Bad Request: chat not found"}
        if path.startswith("/bot"):
            token, method = path[4:].split("/", 1)
            if token != TOKEN:
                return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
            if method == "getMe":
                return 200, {
                    "ok": True,
                    "result": {
                        "id": 42,
                        "is_bot": True,
                        "first_name": "Shop",
                        "username": "shop_bot",
                    },
                }
            if method == "setWebhook":
                return 200, {"ok": True, "result": True, "description": "Webhook was set"}
            if method == "sendMessage":
                message = {
                    "message_id": next(self._ids),
                    "chat": {"id": body["chat_id"]},
                    "text": body["text"],
                }
                return 200, {"ok": True, "result": message}
            return 404, {"ok": False, "description": "Not Found"}
        if path.startswith("/2010-04-01/Accounts/") and path.endswith("/Messages.json"):
            sid = path.split("/")[3]
            expected = "Basic " + base64.b64encode(f"{sid}:twilio-token".encode()).decode()
            if auth != expected:
                return 401, {"code": 20003, "message": "Authenticate", "status": 401}
            return 201, {
                "sid": f"SM{next(self._ids):032d}",
                "status": "queued",
                "body": body.get("Body"),
            }
        return 404, {"message": "not found"}

    def __enter__(self) -> StandIn:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
