"""Auditor pages under /audit/: the log with filters, a record with its seal and proof, dashboards, exports.

Every page needs the ``auditor`` role (others get 403, anonymous users the login page), except the
public key, which anyone may fetch to check seals, manifests and exports.
"""

from audit.views.exports import export_detail, export_download, export_list, export_manifest, export_new
from audit.views.log import log_list, record_detail, trace
from audit.views.panels import dashboards
from audit.views.status import catalogue, integrity_banner, public_key, verify_now

__all__ = [
    "catalogue",
    "dashboards",
    "export_detail",
    "export_download",
    "export_list",
    "export_manifest",
    "export_new",
    "integrity_banner",
    "log_list",
    "public_key",
    "record_detail",
    "trace",
    "verify_now",
]
