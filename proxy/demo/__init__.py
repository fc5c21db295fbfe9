"""Procurement Desk, the legacy web application that `guidegate demo` starts behind the proxy.

It imitates an intranet purchasing system of the early 2000s, so that guides and workflow
analytics can be shown on the kind of page Guidegate is built for. Its pages are upper-case
HTML 4.01 Transitional with table layout and no script libraries. The main page is a frameset,
HTML is gzip-compressed when the client accepts it, and one page (the vendor list) is encoded in
windows-1252 and declared only by a META tag.

Users (``DEMO_USERS``; user name and password are equal):

- ``clerk`` / ``clerk``: Carla Clerk, Purchasing clerk. Creates vendors, raises purchase
  orders, submits and cancels them.
- ``manager`` / ``manager``: Max Manager, Purchasing manager. Reads the reports.
- ``approver`` / ``approver``: Anna Approver, Budget approver. Approves or rejects orders.

Every page shows the user in ``<TD ID="whoami">Signed in as Carla Clerk (Purchasing clerk)</TD>``.
Sign-in is ``POST /login`` (fields ``username``, ``password``), which sets the cookie
``DEMOSESSION`` (HttpOnly, Path=/); ``/logout`` ends the session.

Workflow (clerk, then approver): ``POST /vendors/new`` creates a vendor, ``POST /po/new`` raises
a draft purchase order, ``POST /po/{id}/submit`` submits it, and ``POST /po/{id}/approve`` or
``POST /po/{id}/reject`` decides it. ``GET /po/{id}/cancel`` shows a confirmation for cancelling
an open order, and ``POST /po/{id}/cancel`` cancels it. A step that succeeds responds 302 with
the object's page as Location (``/vendors/{id}`` or ``/po/{id}``). A validation failure responds
200 with each message in ``<FONT COLOR="red" CLASS="error" ID="error_FIELD">``. An action the
role may not take responds 403 with a page, and a page that needs a session redirects to
``/login``.

Data lives in SQLite (in memory unless a path is given) and is reset to the seed vendors and
orders on every start.
"""

from proxy.demo.accounts import DEMO_USERS, SESSION_COOKIE, DemoUser, Role
from proxy.demo.app import DemoServer, create_demo_app, start_demo

__all__ = ["DEMO_USERS", "SESSION_COOKIE", "DemoServer", "DemoUser", "Role", "create_demo_app", "start_demo"]
