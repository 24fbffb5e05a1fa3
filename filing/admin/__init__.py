"""The operators' admin of the filing records.

Workflow steps, approvals, checks and exports are explicit actions that call ``filing.services``;
a refused step shows its reason as an error message, never a server error."""

# Importing the modules registers their admin pages, the safety records' (risk taxonomy, thresholds, keyword
# library) and test banks' included.
import filing.safety.admin  # noqa: F401
from filing.admin import (  # noqa: F401
    annotation,
    complaints,
    datasets,
    documents,
    exports,
    incidents,
    model_records,
    providers,
)
