"""A bounded, decoded copy of a response body, kept for checks that run after the response is sent."""

from __future__ import annotations

import logging

from proxy.rewrite.codec import CorruptBodyError, Decoder, UnsupportedCodingError, make_decoder, parse_content_encoding

logger = logging.getLogger(__name__)


class BodyCopy:
    """Decodes the response as it streams past and keeps its first `limit` decoded bytes.

    Feeding never raises: a body in a coding that cannot be decoded, or a corrupt one, leaves the
    copy as it stands and marks it `complete = False`; the response itself is not affected.
    """

    def __init__(self, content_encoding: str | None, limit: int) -> None:
        self.limit = limit
        self.complete = True
        self._parts: list[bytes] = []
        self._size = 0
        self._decoder: Decoder | None
        try:
            self._decoder = make_decoder(parse_content_encoding(content_encoding))
        except UnsupportedCodingError:
            self._decoder = None
            self.complete = False

    @property
    def full(self) -> bool:
        return self._size >= self.limit

    def feed(self, chunk: bytes) -> None:
        """Decode and keep `chunk` until the limit is reached."""
        if self._decoder is None or self._size >= self.limit:
            return
        try:
            for piece in self._decoder.decode(chunk):
                self._keep(piece)
                if self._size >= self.limit:
                    self.complete = False
                    return
        except CorruptBodyError as error:
            logger.debug("response body copy stopped: %s", error)
            self._decoder = None
            self.complete = False

    def _keep(self, piece: bytes) -> None:
        room = self.limit - self._size
        if room <= 0:
            return
        kept = piece[:room]
        self._parts.append(kept)
        self._size += len(kept)

    def data(self) -> bytes:
        """Return the copied decoded bytes."""
        return b"".join(self._parts)
