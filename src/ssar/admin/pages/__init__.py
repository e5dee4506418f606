"""The admin center's pages, one module per area; each exposes ``router`` (prefix ``/admin``)."""

AREAS = (
    "overview",
    "users",
    "groups",
    "profiles",
    "providers",
    "trust",
    "setup",
    "tap_policy",
    "reports",
    "estimator",
    "audit",
    "settings",
)
