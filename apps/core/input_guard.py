"""Refuses input no view can handle before any view sees it: a NUL byte anywhere in the path, the query string
or a text body (PostgreSQL cannot store one, the driver raises), and JSON nested deeper than
``MAX_JSON_DEPTH`` (the parser recurses and runs out of stack). Each is a 400 with a JSON ``detail``."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import unquote_to_bytes

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _

MAX_JSON_DEPTH = 64
TEXT_BODIES = ("application/json", "application/x-www-form-urlencoded", "text/")


def json_depth_exceeds(body: bytes, limit: int) -> bool:
    """True when brackets outside strings nest deeper than ``limit`` (a linear scan, no parsing)."""
    depth = 0
    in_string = escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > limit:
                return True
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return False


def _bad(message: str) -> JsonResponse:
    return JsonResponse({"detail": message}, status=400)


class HostileInputMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        raw_path = request.META.get("PATH_INFO", "")
        query = request.META.get("QUERY_STRING", "")
        if "\x00" in raw_path or b"\x00" in unquote_to_bytes(query):
            return _bad(_("요청 주소에 NUL 문자가 있습니다 (NUL byte in the URL)."))
        content_type = request.META.get("CONTENT_TYPE", "").lower()
        if request.method in ("POST", "PUT", "PATCH", "DELETE") and content_type.startswith(
            TEXT_BODIES
        ):
            body = request.body
            form = content_type.startswith("application/x-www-form-urlencoded")
            if b"\x00" in body or b"\\u0000" in body or (form and b"%00" in body):
                return _bad(_("요청 본문에 NUL 문자가 있습니다 (NUL byte in the body)."))
            if content_type.startswith("application/json") and json_depth_exceeds(
                body, MAX_JSON_DEPTH
            ):
                return _bad(_("JSON이 너무 깊게 중첩되었습니다 (JSON nested too deep)."))
        return self.get_response(request)
