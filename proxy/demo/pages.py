"""The demo app's general pages: frameset, navigation frame, sign-in, home, help, reports and errors."""

from __future__ import annotations

from collections.abc import Sequence

from proxy.demo.accounts import DEMO_USERS, ROLE_TITLES, DemoUser, Permission, Role, roles_with
from proxy.demo.markup import (
    APP_NAME,
    FRAMESET_DOCTYPE,
    TRANSITIONAL_DOCTYPE,
    document,
    error_list,
    escape,
    field_row,
    form,
    link,
    submit_button,
    table,
    text_input,
    whoami_text,
)
from proxy.demo.models import OrderStatus, PurchaseOrder, SummaryRow, format_money
from proxy.demo.validation import FieldError

HOME_PATH = "/home"

_ROLE_DUTIES: dict[Role, str] = {
    Role.CLERK: "creates vendors, raises purchase orders and submits them for approval",
    Role.MANAGER: "reads the reports",
    Role.APPROVER: "approves or rejects submitted purchase orders",
}

_NAVIGATION: tuple[tuple[str, str, str, Permission | None], ...] = (
    ("nav_home", HOME_PATH, "Home", None),
    ("nav_vendors", "/vendors", "Vendors", None),
    ("nav_new_vendor", "/vendors/new", "New vendor", Permission.CREATE_VENDOR),
    ("nav_orders", "/po", "Purchase orders", None),
    ("nav_new_order", "/po/new", "New purchase order", Permission.RAISE_ORDER),
    ("nav_awaiting", f"/po?status={OrderStatus.SUBMITTED}", "Awaiting approval", Permission.DECIDE_ORDER),
    ("nav_reports", "/reports", "Reports", Permission.VIEW_REPORTS),
    ("nav_help", "/help", "Help and terms", None),
)
"""Navigation links as (ID, URL, text, permission needed to see the link)."""


def frameset_page(user: DemoUser, main_path: str) -> str:
    """Render the main page: the navigation frame `nav` beside the content frame `main`."""
    return f"""{FRAMESET_DOCTYPE}
<HTML>
<HEAD>
<TITLE>{APP_NAME}</TITLE>
</HEAD>
<FRAMESET COLS="180,*" FRAMEBORDER=1 BORDER=1>
<FRAME SRC="/nav" NAME="nav" SCROLLING="auto">
<FRAME SRC="{escape(main_path)}" NAME="main">
<NOFRAMES>
<BODY>
<P ID="whoami">{escape(whoami_text(user))}</P>
<P>{APP_NAME} needs a browser that shows frames. {link(HOME_PATH, "Continue without frames")}</P>
</BODY>
</NOFRAMES>
</FRAMESET>
</HTML>
"""


def navigation_page(user: DemoUser) -> str:
    """Render the navigation frame: the links this user's role may use, and sign-out."""
    rows = [
        f"<TR><TD>{link(href, text, link_id=link_id, target='main')}</TD></TR>"
        for link_id, href, text, permission in _NAVIGATION
        if permission is None or user.may(permission)
    ]
    rows.append(f"<TR><TD>{link('/logout', 'Sign out', link_id='nav_logout', target='_top')}</TD></TR>")
    links = "\n".join(rows)
    return f"""{TRANSITIONAL_DOCTYPE}
<HTML>
<HEAD>
<TITLE>{APP_NAME} - Menu</TITLE>
</HEAD>
<BODY BGCOLOR="#E8E8F0" LINK="#000080" VLINK="#000080">
<TABLE WIDTH="100%" BORDER=0 CELLPADDING=3 CELLSPACING=0>
<TR><TD><FONT FACE="Arial,Helvetica"><B>{APP_NAME}</B></FONT></TD></TR>
<TR><TD ID="whoami">{escape(whoami_text(user))}</TD></TR>
<TR><TD><HR></TD></TR>
{links}
</TABLE>
</BODY>
</HTML>
"""


def login_page(user: DemoUser | None, username: str, errors: Sequence[FieldError]) -> str:
    """Render the sign-in form (fields username and password, button `login`).

    The form targets the top window, so signing in from inside a frame replaces the frameset.
    """
    rows = [
        field_row("User name", "username", text_input("username", username, size=20, maxlength=40)),
        field_row("Password", "password", text_input("password", "", size=20, maxlength=40, kind="password")),
    ]
    accounts = ", ".join(
        f"<TT>{escape(account.username)}</TT> / <TT>{escape(account.password)}</TT> ({escape(account.role_title)})"
        for account in DEMO_USERS
    )
    body = (
        error_list(errors)
        + form("/login", "login", rows, submit_button("login", "Sign in"), target="_top")
        + f'<P><FONT SIZE="-1">Demo accounts: {accounts}.</FONT></P>\n'
    )
    return document("Sign in", user, body, onload="document.login.username.focus()")


def home_page(user: DemoUser, orders: Sequence[PurchaseOrder]) -> str:
    """Render the start page of the content frame with the orders that need this user's attention."""
    if user.may(Permission.RAISE_ORDER):
        heading = "Your draft orders"
        actions = f"<P>{link('/po/new', 'Raise a purchase order', link_id='home_new_order')} | " + link(
            "/vendors/new", "Create a vendor", link_id="home_new_vendor"
        ) + "</P>\n"
    elif user.may(Permission.DECIDE_ORDER):
        heading = "Orders awaiting your approval"
        actions = ""
    else:
        heading = "Orders awaiting approval"
        actions = f"<P>{link('/reports', 'Open the reports', link_id='home_reports')}</P>\n"
    rows = [
        [
            link(f"/po/{order.id}", f"PO {order.id}"),
            escape(order.vendor_name),
            escape(order.description),
            escape(format_money(order.total_cents)),
        ]
        for order in orders
    ]
    body = (
        f"<P>Welcome, {escape(user.full_name)}.</P>\n"
        + actions
        + f"<H3>{escape(heading)}</H3>\n"
        + table("home_orders", ["Order", "Vendor", "Description", "Total"], rows, empty="Nothing to do.")
    )
    return document("Home", user, body)


def help_page(user: DemoUser | None) -> str:
    """Render the help page: how to buy something, the field formats, and the terms of purchase."""
    roles = "".join(f"<LI><B>{escape(ROLE_TITLES[role])}</B>: {escape(duties)}</LI>" for role, duties in _ROLE_DUTIES.items())
    body = f"""<H3><A NAME="workflow">How to buy something</A></H3>
<OL ID="help_workflow">
<LI>Check that the vendor is in the vendor list, or create it under <I>New vendor</I>.</LI>
<LI>Raise a purchase order for the vendor under <I>New purchase order</I>. It starts as a draft.</LI>
<LI>Open the draft and press <I>Submit for approval</I>.</LI>
<LI>A budget approver approves the order, or rejects it with a reason.</LI>
</OL>
<H3><A NAME="formats">Field formats</A></H3>
<TABLE ID="help_formats" BORDER=1 CELLPADDING=2 CELLSPACING=0>
<TR BGCOLOR="#CCCCCC"><TH>Field</TH><TH>Format</TH><TH>Example</TH></TR>
<TR><TD>Tax ID</TD><TD>2 letters followed by 9 digits</TD><TD>DE123456789</TD></TR>
<TR><TD>Cost center</TD><TD>exactly 4 digits</TD><TD>4711</TD></TR>
<TR><TD>Unit price</TD><TD>euro amount above 0, at most 2 decimals</TD><TD>12.50</TD></TR>
<TR><TD>Delivery date</TD><TD>YYYY-MM-DD, today or later</TD><TD>2030-06-30</TD></TR>
</TABLE>
<H3><A NAME="roles">Roles</A></H3>
<UL ID="help_roles">{roles}</UL>
<H3><A NAME="terms">Terms of purchase</A></H3>
<P ID="terms">Orders above 5,000.00 &euro; need a second quote attached in the paper file.
Vendors deliver on working days only. Prices are net prices in euro.</P>
"""
    return document("Help and terms", user, body)


def reports_page(
    user: DemoUser, by_status: Sequence[SummaryRow], by_cost_center: Sequence[SummaryRow], by_vendor: Sequence[SummaryRow]
) -> str:
    """Render the manager's reports: orders per status, and open or approved value per cost center and vendor."""
    body = (
        "<H3>Orders by status</H3>\n"
        + table("report_status", ["Status", "Orders", "Value"], _summary_rows(by_status))
        + "<H3>Open and approved orders by cost center</H3>\n"
        + table("report_cost_center", ["Cost center", "Orders", "Value"], _summary_rows(by_cost_center))
        + "<H3>Open and approved orders by vendor</H3>\n"
        + table("report_vendor", ["Vendor", "Orders", "Value"], _summary_rows(by_vendor))
        + f"<P>{link('/reports/orders.csv', 'Download all orders as CSV', link_id='export_csv')}</P>\n"
    )
    return document("Reports", user, body)


def _summary_rows(rows: Sequence[SummaryRow]) -> list[list[str]]:
    return [[escape(row.label), str(row.orders), escape(format_money(row.total_cents))] for row in rows]


def forbidden_page(user: DemoUser, permission: Permission) -> str:
    """Render the 403 page for a user whose role lacks `permission`."""
    needed = " or ".join(ROLE_TITLES[role] for role in roles_with(permission))
    message = (
        f"Access denied: a {user.role_title} may not {permission.value}. This needs the role {needed}."
    )
    body = error_list([FieldError("forbidden", message)]) + f"<P>{link(HOME_PATH, 'Back to the start page')}</P>\n"
    return document("Access denied", user, body)


def not_found_page(user: DemoUser | None, message: str) -> str:
    """Render the 404 page with `message` (plain text)."""
    body = error_list([FieldError("not_found", message)]) + f"<P>{link(HOME_PATH, 'Back to the start page')}</P>\n"
    return document("Not found", user, body)
