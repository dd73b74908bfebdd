"""The API's JSON parser: DRF's, refusing documents nested deeper than ``MAX_JSON_DEPTH``."""

from __future__ import annotations

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser
from rest_framework.utils import json

from core.exceptions import ApplicationError
from core.json_limits import MAX_JSON_DEPTH, json_depth_message, json_too_deep


class DepthLimitedJSONParser(JSONParser):
    """Refuses a body nested too deep (400 ``validation_failed``) before parsing it as DRF does."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = stream.read().decode(encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc
        if json_too_deep(text):
            raise ApplicationError(
                json_depth_message(), code="validation_failed", details={"max_depth": MAX_JSON_DEPTH}
            )
        try:
            return json.loads(text, parse_constant=json.strict_constant if self.strict else None)
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc
