"""HTML 4.01 building blocks of the demo app's pages: the page frame, tables, errors and form controls.

The markup is upper-case, table-laid-out and script-free on purpose: it is what intranet
applications of the early 2000s sent, and what Guidegate has to cope with.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from proxy.demo.accounts import DemoUser
from proxy.demo.validation import FieldError

APP_NAME = "Procurement Desk"

TRANSITIONAL_DOCTYPE = (
    '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN" "http://www.w3.org/TR/html4/loose.dtd">'
)
FRAMESET_DOCTYPE = '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Frameset//EN" "http://www.w3.org/TR/html4/frameset.dtd">'


def escape(value: object) -> str:
    """Escape text for element content and double-quoted attribute values."""
    return html.escape(str(value), quote=True)


def whoami_text(user: DemoUser | None) -> str:
    """Return the text of the `whoami` cell: the signed-in user with the role, or "Not signed in"."""
    return "Not signed in" if user is None else user.signed_in_text


def document(
    title: str, user: DemoUser | None, body: str, *, meta_charset: str | None = None, onload: str | None = None
) -> str:
    """Wrap `body` (HTML) in a full page with the title bar and the `whoami` cell.

    `meta_charset` adds a META Content-Type tag as the first element of the HEAD, for a page whose
    HTTP header names no charset. `onload` is the BODY's onLoad script.
    """
    meta = f'<META HTTP-EQUIV="Content-Type" CONTENT="text/html; charset={meta_charset}">\n' if meta_charset else ""
    onload_attribute = f' onLoad="{escape(onload)}"' if onload else ""
    return f"""{TRANSITIONAL_DOCTYPE}
<HTML>
<HEAD>
{meta}<TITLE>{APP_NAME} - {escape(title)}</TITLE>
</HEAD>
<BODY BGCOLOR="#FFFFFF" TEXT="#000000" LINK="#0000CC" VLINK="#663399"{onload_attribute}>
<TABLE WIDTH="100%" BORDER=0 CELLPADDING=4 CELLSPACING=0>
<TR BGCOLOR="#003366"><TD><FONT FACE="Arial,Helvetica" COLOR="#FFFFFF" SIZE="+1"><B>{APP_NAME}</B></FONT></TD></TR>
<TR BGCOLOR="#DDDDDD"><TD ID="whoami">{escape(whoami_text(user))}</TD></TR>
</TABLE>
<H2><FONT FACE="Arial,Helvetica">{escape(title)}</FONT></H2>
{body}
<HR>
<CENTER><FONT SIZE="-2">{APP_NAME} 2.3 &copy; 2003 Purchasing IT &middot; Best viewed with Internet Explorer 6 at 800x600</FONT></CENTER>
</BODY>
</HTML>
"""


def error_list(errors: Sequence[FieldError]) -> str:
    """Render errors as red text, each `<FONT CLASS="error" ID="error_FIELD">`; empty for no errors."""
    if not errors:
        return ""
    lines = "\n".join(
        f'<FONT COLOR="red" CLASS="error" ID="error_{escape(error.field)}">{escape(error.message)}</FONT><BR>'
        for error in errors
    )
    return f'<P ID="errors">\n{lines}\n</P>\n'


def link(href: str, text: str, *, link_id: str | None = None, target: str | None = None) -> str:
    """Render an anchor; `text` is plain text."""
    id_attribute = f' ID="{link_id}"' if link_id else ""
    target_attribute = f' TARGET="{target}"' if target else ""
    return f'<A HREF="{escape(href)}"{id_attribute}{target_attribute}>{escape(text)}</A>'


def table(table_id: str, headers: Sequence[str], rows: Sequence[Sequence[str]], *, empty: str = "No entries.") -> str:
    """Render a bordered table; `headers` are plain text, row cells are HTML already."""
    head = "".join(f"<TH>{escape(header)}</TH>" for header in headers)
    if rows:
        body = "\n".join("<TR>" + "".join(f"<TD>{cell}</TD>" for cell in row) + "</TR>" for row in rows)
    else:
        body = f'<TR><TD COLSPAN={len(headers)}><I>{escape(empty)}</I></TD></TR>'
    return f"""<TABLE ID="{table_id}" BORDER=1 CELLPADDING=2 CELLSPACING=0>
<TR BGCOLOR="#CCCCCC">{head}</TR>
{body}
</TABLE>
"""


def detail_table(table_id: str, rows: Sequence[tuple[str, str, str]]) -> str:
    """Render label/value rows; each row is (label text, cell ID, value HTML)."""
    body = "\n".join(
        f'<TR><TD BGCOLOR="#EEEEEE"><B>{escape(label)}</B></TD><TD ID="{cell_id}">{value}</TD></TR>'
        for label, cell_id, value in rows
    )
    return f'<TABLE ID="{table_id}" BORDER=1 CELLPADDING=2 CELLSPACING=0>\n{body}\n</TABLE>\n'


def form(action: str, name: str, rows: Sequence[str], buttons: str, *, target: str | None = None) -> str:
    """Render a POST form laid out as a table; `rows` come from `field_row`."""
    target_attribute = f' TARGET="{target}"' if target else ""
    return f"""<FORM METHOD="POST" ACTION="{escape(action)}" NAME="{name}"{target_attribute}>
<TABLE BORDER=0 CELLPADDING=2>
{"".join(rows)}<TR><TD></TD><TD>{buttons}</TD></TR>
</TABLE>
</FORM>
"""


def field_row(label: str, field: str, control: str, hint: str = "") -> str:
    """Render one labelled row of a form; `control` is the control's HTML, `hint` plain text."""
    hint_html = f' <FONT SIZE="-1" COLOR="#666666">{escape(hint)}</FONT>' if hint else ""
    return (
        f'<TR><TD ALIGN="right" VALIGN="top"><LABEL FOR="{field}">{escape(label)}:</LABEL></TD>'
        f"<TD>{control}{hint_html}</TD></TR>\n"
    )


def text_input(name: str, value: str, *, size: int = 30, maxlength: int | None = None, kind: str = "text") -> str:
    """Render an INPUT whose NAME and ID are both `name`."""
    maxlength_attribute = f" MAXLENGTH={maxlength}" if maxlength else ""
    return f'<INPUT TYPE="{kind}" NAME="{name}" ID="{name}" VALUE="{escape(value)}" SIZE={size}{maxlength_attribute}>'


def select(name: str, options: Sequence[tuple[str, str]], selected: str) -> str:
    """Render a SELECT whose NAME and ID are `name`; options are (value, plain-text label)."""
    rendered = "".join(
        f'<OPTION VALUE="{escape(value)}"{" SELECTED" if value == selected else ""}>{escape(label)}</OPTION>'
        for value, label in options
    )
    return f'<SELECT NAME="{name}" ID="{name}">{rendered}</SELECT>'


def textarea(name: str, value: str, *, rows: int = 3, cols: int = 40) -> str:
    """Render a TEXTAREA whose NAME and ID are `name`."""
    return f'<TEXTAREA NAME="{name}" ID="{name}" ROWS={rows} COLS={cols}>{escape(value)}</TEXTAREA>'


def submit_button(button_id: str, label: str) -> str:
    """Render a submit button without a NAME, so it adds no field to the form data."""
    return f'<INPUT TYPE="submit" VALUE="{escape(label)}" ID="{button_id}">'
