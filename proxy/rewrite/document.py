"""The per-response pipeline: decode the body, splice the snippet in, re-encode for the client, fail open."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping, Sequence

from multidict import CIMultiDict

from proxy.rewrite.codec import CorruptBodyError, Decoder, Encoder, choose_output_coding, make_decoder, make_encoder
from proxy.rewrite.csp import parse_policy
from proxy.rewrite.decide import Decision
from proxy.rewrite.headers import adjust_response_headers
from proxy.rewrite.quick import prescan_unchanged, quick_point
from proxy.rewrite.splice import DEFAULT_LOOKAHEAD, SkipInjection, Splicer

logger = logging.getLogger(__name__)

QUICK_WINDOW = 8 * 1024
"""Leading bytes of a first chunk that `feed_view` copies to look for an ordinary document start."""

NonceSnippet = Callable[[str | None], bytes]
"""Builds the snippet for a nonce (None when the page's policy needs none), e.g. a build_snippet partial."""


class DocumentRewriter:
    """Rewrite one response body that `decide` chose for injection.

    Call `headers` for the response head, then `feed` with each upstream chunk and `finish` at
    the end; send every returned byte in order. After `finish`, `outcome` is "injected" or the
    reason the body was left alone, and `placement` names where the snippet went.

    Failures never break the page. An error while splicing sends the held bytes and the rest
    unchanged. A corrupt or cut-short compressed body is sent exactly as the upstream sent it
    when nothing has gone out yet and the client gets the upstream's coding; otherwise the
    encoded stream ends cleanly after the last good byte, as a browser would show it.
    """

    # A rewriter is built for every injected page, and most plain pages need no decoder or encoder
    # after quick_point placed the snippet. So it has slots and builds those on first use.
    __slots__ = (
        "_decision", "_snippet", "_request_id", "output_coding", "_codecs", "_lookahead",
        "_splicer_instance", "_splicer_failed", "_raw", "_raw_compatible", "_plain", "_try_quick",
        "_quick_outcome", "_quick_placement", "_quick_snippet", "_mode", "_failure",
    )

    def __init__(
        self,
        decision: Decision,
        snippet: bytes | NonceSnippet,
        *,
        accept_encoding: str | None,
        lookahead: int = DEFAULT_LOOKAHEAD,
        request_id: str = "-",
    ) -> None:
        if not decision.inject:
            raise ValueError(f"DocumentRewriter needs a decision to inject, got skip '{decision.reason}'")
        codings = decision.codings
        self._decision = decision
        self._snippet = snippet
        self._request_id = request_id
        self.output_coding = choose_output_coding(codings, accept_encoding) if codings else "identity"
        """The content coding sent to the client: "identity", "gzip", "deflate" or "br"."""
        # A coded body needs both at once, and building them here lets a failure reach the caller's
        # fail-open handling as before. The identity pair for a plain body waits until needed.
        self._codecs: tuple[Decoder, Encoder] | None = (
            (make_decoder(codings), make_encoder(self.output_coding)) if codings else None
        )
        self._lookahead = lookahead
        self._splicer_instance: Splicer | None = None
        self._splicer_failed = False
        # The upstream's bytes, kept until the first byte goes out, so that a body that cannot
        # be decoded can still be sent as it came when the client gets the upstream's coding.
        # A body without a coding is never decoded, so none of it is kept.
        self._raw: list[bytes] | None = [] if codings else None
        self._raw_compatible = not codings or (len(codings) == 1 and codings[0] == self.output_coding)
        self._plain = not codings
        # An ordinary document start is placed by quick_point; only the first chunk is tried.
        self._try_quick = not codings and not decision.xhtml
        self._quick_outcome: str | None = None
        self._quick_placement: str | None = None
        self._quick_snippet = b""
        self._mode = "rewrite"  # "rewrite", "raw" (upstream bytes pass unchanged) or "ended"
        self._failure: str | None = None

    @property
    def _splicer(self) -> Splicer:
        """The streaming splicer, built when a document needs it (not for one that quick_point placed)."""
        if self._splicer_instance is None:
            decision = self._decision
            # A partial rather than a bound method, so that the splicer holds no reference back to this
            # rewriter: without the cycle, both are freed when the response ends, not by the collector.
            self._splicer_instance = Splicer(
                functools.partial(_build_snippet, decision, self._snippet, self._request_id),
                xml=decision.xhtml,
                sniff=decision.sniff,
                lookahead=self._lookahead,
                encoding=decision.charset,
            )
        return self._splicer_instance

    @property
    def _decoder(self) -> Decoder:
        return self._coding()[0]

    @property
    def _encoder(self) -> Encoder:
        return self._coding()[1]

    def _coding(self) -> tuple[Decoder, Encoder]:
        """Return the decoder of the upstream's codings and the encoder of the client's, built on first use."""
        if self._codecs is None:
            self._codecs = (make_decoder(self._decision.codings), make_encoder(self.output_coding))
        return self._codecs

    @property
    def outcome(self) -> str | None:
        """ "injected", or the reason the snippet was not inserted; None before the end is known."""
        if self._quick_outcome is not None:
            return self._quick_outcome
        return self._failure or self._splicer.outcome

    @property
    def placement(self) -> str | None:
        """Where the snippet went (see Splicer.placement), or None."""
        if self._quick_outcome is not None:
            return self._quick_placement
        return self._splicer.placement if self.outcome == "injected" else None

    def headers(self, upstream_headers: Mapping[str, str]) -> CIMultiDict[str]:
        """Return the response header fields to send with the rewritten body.

        A CIMultiDict is changed in place and returned, sparing a copy: the forwarder passes its own.
        """
        csp = self._decision.csp
        return adjust_response_headers(
            upstream_headers,
            content_encoding=self.output_coding,
            negotiated=bool(self._decision.codings),
            csp_values=csp.header_values if csp is not None else None,
            in_place=True,
        )

    def feed(self, chunk: bytes) -> bytes:
        """Take the next chunk as the upstream sent it; return the bytes to send to the client now."""
        if self._mode == "raw":
            return chunk
        if self._mode == "ended" or not chunk:
            return b""
        pieces = self.feed_view(chunk)
        if pieces is not None:
            return b"".join(pieces)
        if self._raw is not None:
            self._raw.append(chunk)
        out: list[bytes] = []
        try:
            for piece in self._decoder.decode(chunk):
                out.append(self._encoder.encode(self._splice(piece)))
            out.append(self._encoder.flush())
        except CorruptBodyError as error:
            return self._corrupt(out, error)
        if self._plain and self._splicer.outcome is not None:
            # Decided, and nothing to decode or encode: the rest passes as it comes.
            self._mode = "raw"
        return self._sent(out)

    @property
    def passing_through(self) -> bool:
        """Whether the rest of the body passes unchanged: decided, and nothing to decode or re-encode."""
        return self._mode == "raw"

    def finish(self) -> bytes:
        """Signal the end of the upstream body; return the last bytes to send."""
        if self._mode != "rewrite":
            self._mode = "ended"
            if logger.isEnabledFor(logging.DEBUG):
                logger.debug("request %s: document %s at %s", self._request_id, self.outcome, self.placement)
            return b""
        out: list[bytes] = []
        try:
            for piece in self._decoder.flush():
                out.append(self._encoder.encode(self._splice(piece)))
        except CorruptBodyError as error:
            return self._corrupt(out, error)
        out.append(self._encoder.encode(self._end_splice()))
        out.append(self._encoder.finish())
        self._mode = "ended"
        logger.debug("request %s: document %s at %s", self._request_id, self.outcome, self.placement)
        return self._sent(out)


    def feed_view(self, chunk: bytes | memoryview) -> list[bytes | memoryview] | None:
        """Take the first chunk without copying it, when the document starts in an ordinary way.

        Return the pieces to send in order (the bytes before the insertion point, the snippet,
        then a view of the rest), after which the rest of the body passes unchanged. Return None
        when the chunk must go through `feed` as bytes instead: any later chunk, a coded or XHTML
        body, or a start that only the full splicer can place.
        """
        if not self._try_quick or self._mode != "rewrite" or not chunk:
            return None
        self._try_quick = False
        head = bytes(chunk[:QUICK_WINDOW])
        offset = self._quick(head)
        if offset is None:
            return None
        if self._quick_outcome != "injected":
            return [chunk]
        view = chunk if isinstance(chunk, memoryview) else memoryview(chunk)
        return [head[:offset], self._quick_snippet, view[offset:]]

    def _quick(self, chunk: bytes) -> int | None:
        """Place the snippet in an ordinary first chunk; return its offset, or None to leave the chunk to the splicer.

        After a placement the rest of the body passes unchanged, and `_quick_snippet` is the tag inserted.
        """
        decision = self._decision
        try:
            point = quick_point(chunk, encoding=decision.charset, lookahead=self._lookahead)
            if point is None:
                return None
            snippet = _build_snippet(decision, self._snippet, self._request_id, ())
            if point.recheck_prescan and not prescan_unchanged(chunk, point.offset, snippet):
                return None
        except SkipInjection as skip:
            # The page's policy blocks the runtime, as the splicer would have found at this point.
            self._quick_outcome = skip.reason
            self._mode = "raw"
            return 0
        except Exception:  # a bug here must not cost the page: the splicer takes over
            logger.exception("request %s: quick placement failed; the full splicer takes over", self._request_id)
            return None
        self._quick_outcome = "injected"
        self._quick_placement = point.placement
        self._quick_snippet = snippet
        self._mode = "raw"
        self._raw = None
        return point.offset

    def _splice(self, piece: bytes) -> bytes:
        if self._splicer_failed:
            return piece
        try:
            return self._splicer.feed(piece)
        except Exception:  # any bug in splicing must leave the page as it was, never break it
            return self._abandon_splice()

    def _end_splice(self) -> bytes:
        if self._splicer_failed:
            return b""
        try:
            return self._splicer.finish()
        except Exception:  # see _splice
            return self._abandon_splice()

    def _abandon_splice(self) -> bytes:
        """Pass every byte the splicer holds on unchanged after an error in it."""
        logger.exception("request %s: splicing failed; the document passes unchanged", self._request_id)
        self._splicer_failed = True
        return self._splicer.abandon()

    def _corrupt(self, out: list[bytes], error: CorruptBodyError) -> bytes:
        self._failure = "corrupt_body"
        if self._raw is not None and self._raw_compatible:
            logger.warning("request %s: %s; the body passes as the upstream sent it", self._request_id, error)
            self._mode = "raw"
            raw = b"".join(self._raw)
            self._raw = None
            return raw
        logger.warning("request %s: %s; the body ends after the last byte decoded", self._request_id, error)
        self._mode = "ended"
        if not self._splicer_failed:
            out.append(self._encoder.encode(self._splicer.abandon()))
        out.append(self._encoder.finish())
        return b"".join(out)

    def _sent(self, out: list[bytes]) -> bytes:
        data = b"".join(out)
        if data:
            self._raw = None
        return data


def _build_snippet(decision: Decision, snippet: bytes | NonceSnippet, request_id: str, meta_values: Sequence[str]) -> bytes:
    """Return the snippet for the page's policies; raise SkipInjection when a policy blocks the runtime."""
    static = isinstance(snippet, bytes)
    nonce: str | None = None
    csp = decision.csp
    if csp is not None and (csp.policies or meta_values):
        meta_policies = [parse_policy(value) for value in meta_values]
        permit = csp.permit(meta_policies, nonce_possible=not static)
        if not permit.allowed:
            logger.info(
                "request %s: runtime not inserted, Content-Security-Policy %s blocks it",
                request_id,
                permit.blocked_by,
            )
            raise SkipInjection("csp_blocks")
        nonce = permit.nonce
    if isinstance(snippet, bytes):
        return snippet
    return snippet(nonce)
