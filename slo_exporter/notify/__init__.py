"""Direct notification: the daemon posts its own alerts to Alertmanager.

``alerts`` decides which alerts a snapshot implies (pure), ``client`` posts
them to one Alertmanager (bounded in time and bytes), ``notifier`` keeps the
active alerts, resends them while they fire, resolves them and feeds one
bounded queue and sender thread per Alertmanager.
"""

from slo_exporter.notify.alerts import Alert, implied_alerts
from slo_exporter.notify.client import AlertmanagerClient, AlertmanagerURL, PostError
from slo_exporter.notify.notifier import Notifier, NotifierSettings

__all__ = [
    "Alert",
    "AlertmanagerClient",
    "AlertmanagerURL",
    "Notifier",
    "NotifierSettings",
    "PostError",
    "implied_alerts",
]
