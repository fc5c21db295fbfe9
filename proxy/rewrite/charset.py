"""Character encoding of an HTML byte stream, determined in the browser's order: BOM, header, <meta> prescan, default."""

from __future__ import annotations

import re
from dataclasses import dataclass

PRESCAN_BYTES = 1024
"""How many leading bytes the HTML prescan examines for a <meta> charset declaration."""

DEFAULT_ENCODING = "windows-1252"
"""The encoding a browser falls back to when nothing declares one (it may also guess from the locale)."""

UTF16_ENCODINGS = frozenset({"UTF-16LE", "UTF-16BE"})

# Every label of the WHATWG Encoding Standard, grouped by the encoding's canonical name.
_LABELS: dict[str, tuple[str, ...]] = {
    "UTF-8": ("unicode-1-1-utf-8", "unicode11utf8", "unicode20utf8", "utf-8", "utf8", "x-unicode20utf8"),
    "IBM866": ("866", "cp866", "csibm866", "ibm866"),
    "ISO-8859-2": (
        "csisolatin2", "iso-8859-2", "iso-ir-101", "iso8859-2", "iso88592", "iso_8859-2", "iso_8859-2:1987", "l2",
        "latin2",
    ),
    "ISO-8859-3": (
        "csisolatin3", "iso-8859-3", "iso-ir-109", "iso8859-3", "iso88593", "iso_8859-3", "iso_8859-3:1988", "l3",
        "latin3",
    ),
    "ISO-8859-4": (
        "csisolatin4", "iso-8859-4", "iso-ir-110", "iso8859-4", "iso88594", "iso_8859-4", "iso_8859-4:1988", "l4",
        "latin4",
    ),
    "ISO-8859-5": (
        "csisolatincyrillic", "cyrillic", "iso-8859-5", "iso-ir-144", "iso8859-5", "iso88595", "iso_8859-5",
        "iso_8859-5:1988",
    ),
    "ISO-8859-6": (
        "arabic", "asmo-708", "csiso88596e", "csiso88596i", "csisolatinarabic", "ecma-114", "iso-8859-6",
        "iso-8859-6-e", "iso-8859-6-i", "iso-ir-127", "iso8859-6", "iso88596", "iso_8859-6", "iso_8859-6:1987",
    ),
    "ISO-8859-7": (
        "csisolatingreek", "ecma-118", "elot_928", "greek", "greek8", "iso-8859-7", "iso-ir-126", "iso8859-7",
        "iso88597", "iso_8859-7", "iso_8859-7:1987", "sun_eu_greek",
    ),
    "ISO-8859-8": (
        "csiso88598e", "csisolatinhebrew", "hebrew", "iso-8859-8", "iso-8859-8-e", "iso-ir-138", "iso8859-8",
        "iso88598", "iso_8859-8", "iso_8859-8:1988", "visual",
    ),
    "ISO-8859-8-I": ("csiso88598i", "iso-8859-8-i", "logical"),
    "ISO-8859-10": ("csisolatin6", "iso-8859-10", "iso-ir-157", "iso8859-10", "iso885910", "l6", "latin6"),
    "ISO-8859-13": ("iso-8859-13", "iso8859-13", "iso885913"),
    "ISO-8859-14": ("iso-8859-14", "iso8859-14", "iso885914"),
    "ISO-8859-15": ("csisolatin9", "iso-8859-15", "iso8859-15", "iso885915", "iso_8859-15", "l9"),
    "ISO-8859-16": ("iso-8859-16",),
    "KOI8-R": ("cskoi8r", "koi", "koi8", "koi8-r", "koi8_r"),
    "KOI8-U": ("koi8-ru", "koi8-u"),
    "macintosh": ("csmacintosh", "mac", "macintosh", "x-mac-roman"),
    "windows-874": ("dos-874", "iso-8859-11", "iso8859-11", "iso885911", "tis-620", "windows-874"),
    "windows-1250": ("cp1250", "windows-1250", "x-cp1250"),
    "windows-1251": ("cp1251", "windows-1251", "x-cp1251"),
    "windows-1252": (
        "ansi_x3.4-1968", "ascii", "cp1252", "cp819", "csisolatin1", "ibm819", "iso-8859-1", "iso-ir-100",
        "iso8859-1", "iso88591", "iso_8859-1", "iso_8859-1:1987", "l1", "latin1", "us-ascii", "windows-1252",
        "x-cp1252",
    ),
    "windows-1253": ("cp1253", "windows-1253", "x-cp1253"),
    "windows-1254": (
        "cp1254", "csisolatin5", "iso-8859-9", "iso-ir-148", "iso8859-9", "iso88599", "iso_8859-9",
        "iso_8859-9:1989", "l5", "latin5", "windows-1254", "x-cp1254",
    ),
    "windows-1255": ("cp1255", "windows-1255", "x-cp1255"),
    "windows-1256": ("cp1256", "windows-1256", "x-cp1256"),
    "windows-1257": ("cp1257", "windows-1257", "x-cp1257"),
    "windows-1258": ("cp1258", "windows-1258", "x-cp1258"),
    "x-mac-cyrillic": ("x-mac-cyrillic", "x-mac-ukrainian"),
    "GBK": ("chinese", "csgb2312", "csiso58gb231280", "gb2312", "gb_2312", "gb_2312-80", "gbk", "iso-ir-58", "x-gbk"),
    "gb18030": ("gb18030",),
    "Big5": ("big5", "big5-hkscs", "cn-big5", "csbig5", "x-x-big5"),
    "EUC-JP": ("cseucpkdfmtjapanese", "euc-jp", "x-euc-jp"),
    "ISO-2022-JP": ("csiso2022jp", "iso-2022-jp"),
    "Shift_JIS": ("csshiftjis", "ms932", "ms_kanji", "shift-jis", "shift_jis", "sjis", "windows-31j", "x-sjis"),
    "EUC-KR": (
        "cseuckr", "csksc56011987", "euc-kr", "iso-ir-149", "korean", "ks_c_5601-1987", "ks_c_5601-1989", "ksc5601",
        "ksc_5601", "windows-949",
    ),
    "replacement": ("csiso2022kr", "hz-gb-2312", "iso-2022-cn", "iso-2022-cn-ext", "iso-2022-kr", "replacement"),
    "UTF-16BE": ("unicodefffe", "utf-16be"),
    "UTF-16LE": ("csunicode", "iso-10646-ucs-2", "ucs-2", "unicode", "unicodefeff", "utf-16", "utf-16le"),
    "x-user-defined": ("x-user-defined",),
}
_BY_LABEL = {label: name for name, labels in _LABELS.items() for label in labels}

_ASCII_WHITESPACE = "\t\n\f\r "
_CHARSET_PARAMETER = re.compile(r';\s*charset\s*=\s*(?:"((?:[^"\\]|\\.)*)"?|([^;]*))', re.IGNORECASE)


@dataclass(frozen=True)
class DetectedEncoding:
    """The encoding a browser would decode a document with, and which rule chose it."""

    name: str
    source: str
    """One of "bom", "header", "xml_declaration", "meta" or "default"."""


def lookup_label(label: str) -> str | None:
    """Map an encoding label to its canonical WHATWG name, or None when browsers do not know the label."""
    return _BY_LABEL.get(label.strip(_ASCII_WHITESPACE).lower())


def bom_encoding(data: bytes) -> tuple[str, int] | None:
    """Return the encoding named by a byte order mark at the start of `data` and the BOM's length."""
    if data.startswith(b"\xef\xbb\xbf"):
        return "UTF-8", 3
    if data.startswith(b"\xfe\xff"):
        return "UTF-16BE", 2
    if data.startswith(b"\xff\xfe"):
        return "UTF-16LE", 2
    return None


def header_charset(content_type: str | None) -> str | None:
    """Return the canonical encoding of a Content-Type header's charset parameter, or None if absent or unknown."""
    if not content_type:
        return None
    match = _CHARSET_PARAMETER.search(content_type)
    if match is None:
        return None
    quoted, plain = match.groups()
    label = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else plain
    return lookup_label(label)


def looks_like_utf16(data: bytes) -> bool:
    """Tell whether BOM-less leading bytes are ASCII markup in UTF-16, e.g. b"<\\x00h\\x00"."""
    if len(data) < 4:
        return False
    low_zero = data[1] == 0 and data[3] == 0 and data[0] != 0 and data[2] != 0
    high_zero = data[0] == 0 and data[2] == 0 and data[1] != 0 and data[3] != 0
    return (low_zero or high_zero) and b"<" in data[:2]


def detect_encoding(data: bytes, content_type: str | None = None, *, xml: bool = False) -> DetectedEncoding:
    """Determine the encoding of a document from its first bytes and Content-Type header.

    HTML follows the HTML standard's order: BOM, then the header's charset, then a prescan of the
    first 1024 bytes for <meta charset> or <meta http-equiv=content-type>, then windows-1252.
    XML (XHTML) replaces the prescan with the XML declaration's encoding and defaults to UTF-8.
    """
    bom = bom_encoding(data)
    if bom is not None:
        return DetectedEncoding(bom[0], "bom")
    declared = header_charset(content_type)
    if declared is not None:
        return DetectedEncoding(declared, "header")
    if xml:
        from_declaration = xml_declaration_encoding(data)
        if from_declaration is not None:
            return DetectedEncoding(from_declaration, "xml_declaration")
        return DetectedEncoding("UTF-8", "default")
    found = prescan(data[:PRESCAN_BYTES])
    if found is not None:
        return DetectedEncoding(found.encoding, "meta")
    return DetectedEncoding(DEFAULT_ENCODING, "default")


_XML_DECLARATION = re.compile(rb"<\?xml[\t\n\r ][^>]*?encoding[\t\n\r ]*=[\t\n\r ]*([\"'])([A-Za-z0-9._:-]+)\1")


def xml_declaration_encoding(data: bytes) -> str | None:
    """Return the canonical encoding an XML declaration at the very start of `data` names, if any."""
    match = _XML_DECLARATION.match(data)
    if match is None:
        return None
    return lookup_label(match.group(2).decode("ascii"))


@dataclass(frozen=True)
class PrescanResult:
    """A charset found by the prescan: the encoding and the offset just past the declaring <meta> tag."""

    encoding: str
    end: int


_META_START = re.compile(rb"<meta[\t\n\f\r /]", re.IGNORECASE)
_TAG_NAME = re.compile(rb"</?[A-Za-z][^\t\n\f\r >]*+")

# The standard's "get an attribute" as a pattern: a name, then a value after '=' (quoted, up to
# whitespace or '>', or empty before '>'), or no value when anything but '=' follows. A match is
# only possible once the byte that ends the attribute has arrived, so "no match" means that the
# data ends inside it.
_ATTRIBUTE = re.compile(
    rb"""[\t\n\f\r /]*+
    (?:
        (?P<gt>>)
      | (?P<name>[^\t\n\f\r />][^\t\n\f\r />=]*+)
        (?:
            [\t\n\f\r ]*+ = [\t\n\f\r ]*+
            (?: "(?P<double>[^"]*+)" | '(?P<single>[^']*+)' | (?=>)
              | (?P<unquoted>[^\t\n\f\r >"'][^\t\n\f\r >]*+) (?=[\t\n\f\r >]) )
          | [\t\n\f\r ]*+ (?=[^\t\n\f\r =])
        )
    )""",
    re.VERBOSE,
)
# The same attributes, all of them up to the tag's '>', for tags whose attributes the prescan drops.
_ATTRIBUTES_TO_GT = re.compile(
    rb"""(?:
        [\t\n\f\r /]*+
        [^\t\n\f\r />][^\t\n\f\r />=]*+
        (?:
            [\t\n\f\r ]*+ = [\t\n\f\r ]*+
            (?: "[^"]*+" | '[^']*+' | (?=>) | [^\t\n\f\r >"'][^\t\n\f\r >]*+ (?=[\t\n\f\r >]) )
          | [\t\n\f\r ]*+ (?=[^\t\n\f\r =])
        )
    )*+
    [\t\n\f\r /]*+ >""",
    re.VERBOSE,
)


# Everything the prescan reads past without looking inside, in one pass: text, comments (whose
# "-->" may reuse the dashes of "<!--"), tags other than <meta> with their attributes, "<!", "</"
# and "<?" constructs up to '>', and a '<' that starts none of these. It stops at a <meta> tag and
# at a construct that the data cuts off, which the step-by-step code below then handles.
_SKIPPED = re.compile(
    rb"""(?:
        [^<]++
      | <!(?=--)(?:(?!-->)[\x00-\xff])*+-->
      | <(?![Mm][Ee][Tt][Aa][\t\n\f\r /])/?[A-Za-z][^\t\n\f\r >]*+ """
    + _ATTRIBUTES_TO_GT.pattern
    + rb"""
      | <(?:!(?!--)|/(?![A-Za-z])|\?)[^>]*+>
      | <(?![A-Za-z!/?])
    )*+""",
    re.VERBOSE,
)


def prescan(data: bytes) -> PrescanResult | None:
    """Run the HTML standard's "prescan a byte stream to determine its encoding" over `data`.

    The caller passes at most the first 1024 bytes. A construct cut off by the end of `data` finds
    nothing, as it does in a browser that stops at that limit.
    """
    position = 0
    end = len(data)
    while position < end:
        position = _SKIPPED.match(data, position).end()  # type: ignore[union-attr]  # matches empty
        if position >= end:
            return None
        if data.startswith(b"<!--", position):
            close = data.find(b"-->", position + 2)
            if close < 0:
                return None
            position = close + 3
            continue
        if _META_START.match(data, position):
            found = _prescan_meta(data, position + 5)
            if isinstance(found, PrescanResult):
                return found
            if found < 0:
                return None
            position = found + 1
            continue
        tag = _TAG_NAME.match(data, position)
        if tag is not None:
            attributes = _ATTRIBUTES_TO_GT.match(data, tag.end())
            if attributes is None:
                return None
            position = attributes.end()
            continue
        if data.startswith((b"<!", b"</", b"<?"), position):
            close = data.find(b">", position + 2)
            if close < 0:
                return None
            position = close + 1
            continue
        position += 1
    return None


def _prescan_meta(data: bytes, position: int) -> PrescanResult | int:
    """Read one <meta> tag's attributes; return the result, or the position of its '>' (-1 when cut off)."""
    seen: set[str] = set()
    got_pragma = False
    need_pragma: bool | None = None
    charset: str | None | bool = None  # False stands for the standard's "failure"
    while True:
        attribute = _ATTRIBUTE.match(data, position)
        if attribute is None:
            return -1
        if attribute.group("gt"):
            position = attribute.start("gt")
            break
        position = attribute.end()
        name = _text(attribute.group("name"))
        value = _text(attribute.group("double") or attribute.group("single") or attribute.group("unquoted") or b"")
        if name in seen:
            continue
        seen.add(name)
        if name == "http-equiv":
            if value == "content-type":
                got_pragma = True
        elif name == "content":
            extracted = extract_meta_charset(value)
            if extracted is not None and charset is None:
                charset = extracted
                need_pragma = True
        elif name == "charset":
            charset = lookup_label(value) or False
            need_pragma = False
    if need_pragma is None or (need_pragma and not got_pragma) or not isinstance(charset, str):
        return position
    if charset in UTF16_ENCODINGS:
        charset = "UTF-8"
    elif charset == "x-user-defined":
        charset = "windows-1252"
    return PrescanResult(charset, position + 1)


def _text(raw: bytes) -> str:
    """Decode as the prescan compares: bytes as code points, A-Z lower-cased."""
    return raw.lower().decode("latin-1")


_CHARSET_WORD = re.compile(r"charset", re.IGNORECASE)


def extract_meta_charset(content: str) -> str | None:
    """Extract the charset of a <meta> content attribute, as the HTML standard's algorithm of that name does.

    Returns the canonical encoding, or None when there is no charset or its label is unknown.
    """
    position = 0
    while True:
        match = _CHARSET_WORD.search(content, position)
        if match is None:
            return None
        position = match.end()
        while position < len(content) and content[position] in _ASCII_WHITESPACE:
            position += 1
        if position >= len(content) or content[position] != "=":
            continue
        position += 1
        while position < len(content) and content[position] in _ASCII_WHITESPACE:
            position += 1
        if position >= len(content):
            return None
        first = content[position]
        if first in "\"'":
            close = content.find(first, position + 1)
            if close < 0:
                return None
            return lookup_label(content[position + 1 : close])
        stop = position
        while stop < len(content) and content[stop] not in _ASCII_WHITESPACE + ";":
            stop += 1
        return lookup_label(content[position:stop])
