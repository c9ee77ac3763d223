"""The auditor workspace (/audit): search cases, read one case's whole history on its diagram, verify the
hash chains, export signed case files, read the statistics; admins set the retention and purge.

Auditors change nothing of a case: every page here reads through the engine, and the engine refuses an
auditor's writes (complete, claim, deploy, cancel) with 403 whatever page they come from.
"""

from __future__ import annotations

from web.audit import case, retention, search, statistics, verifications  # noqa: F401 - each adds its routes to the blueprint
