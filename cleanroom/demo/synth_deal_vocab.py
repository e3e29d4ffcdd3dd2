"""The synthetic attribution inputs' vocabulary: deal and touch file headers, stage, type and role spellings.

Tables only, no logic: synth_deals.py renders deals and touches from them (and from
synth_vocab.py's owners and website/domain spellings). Changing any table changes the
generated files for every seed.
"""

from __future__ import annotations

from typing import NamedTuple

from cleanroom.demo.synth_vocab import DOMAIN_FORMS, WEBSITE_FORMS

SALESFORCE_DEAL_HEADERS = [
    "Opportunity ID",
    "Opportunity Name",
    "Account Name",
    "Website",
    "Amount",
    "Opportunity Currency",
    "Stage",
    "Created Date",
    "Close Date",
    "Type",
    "Opportunity Owner",
    "Billing Country",
    "Lead Source",
]
HUBSPOT_DEAL_HEADERS = [
    "Record ID",
    "Deal Name",
    "Associated Company",
    "Company Domain Name",
    "Amount",
    "Deal currency code",
    "Deal Stage",
    "Create Date",
    "Close Date",
    "Deal Type",
    "Deal owner",
    "Country/Region",
]


class TouchStyle(NamedTuple):
    headers: list[str]
    name: str
    key: str
    role: str
    date: str
    country: str
    forms: list[str]  # spellings of the website/domain (synth_vocab.py)
    date_format: str  # "us" (m/d/Y), "iso" or "iso-time"


# Partner i writes its touches in style i % 3.
TOUCH_STYLES = (
    TouchStyle(
        ["Account Name", "Website", "Partner Role", "Touch Date", "Partner Rep", "Billing Country", "Notes"],
        "Account Name",
        "Website",
        "Partner Role",
        "Touch Date",
        "Billing Country",
        WEBSITE_FORMS,
        "us",
    ),
    TouchStyle(
        ["Company name", "Company Domain Name", "Touch Type", "Activity Date", "Country/Region", "Owner"],
        "Company name",
        "Company Domain Name",
        "Touch Type",
        "Activity Date",
        "Country/Region",
        DOMAIN_FORMS,
        "iso-time",
    ),
    TouchStyle(
        ["Account Name", "Domain", "Role", "Date", "Country", "Notes"],
        "Account Name",
        "Domain",
        "Role",
        "Date",
        "Country",
        DOMAIN_FORMS,
        "iso",
    ),
)
SF_DEAL_STAGES = {
    "won": ("Closed Won",),
    "lost": ("Closed Lost",),
    "open": (
        "Prospecting",
        "Qualification",
        "Needs Analysis",
        "Value Proposition",
        "Id. Decision Makers",
        "Perception Analysis",
        "Proposal/Price Quote",
        "Negotiation/Review",
    ),
}
HS_DEAL_STAGES = {
    "won": ("closedwon", "Closed Won"),
    "lost": ("closedlost", "Closed Lost"),
    "open": (
        "appointmentscheduled",
        "qualifiedtobuy",
        "presentationscheduled",
        "decisionmakerboughtin",
        "contractsent",
        "Appointment Scheduled",
        "Contract Sent",
    ),
}
SF_DEAL_TYPES = {
    "new": ("New Business", "New Business", "New Customer", ""),
    "expansion": ("Existing Business - Upgrade", "Expansion", "Existing Customer - Upgrade"),
    "renewal": ("Renewal", "Existing Business - Renewal"),
}
HS_DEAL_TYPES = {
    "new": ("newbusiness", "New Business"),
    "expansion": ("existingbusiness", "Existing Business"),
    "renewal": ("renewal", "Renewal"),
}
ROLE_SPELLINGS = {
    "sourcing": ("Sourcing", "sourcing", "Referral", "referred", "Sourced", "source"),
    "co-sell": ("Co-Sell", "cosell", "co sell", "Co-selling"),
    "technical": ("Technical", "tech", "Technical Validation", "Integration"),
    "influence": ("Influence", "influenced", "Influencer"),
}
ROLE_ORDER = ("sourcing", "co-sell", "technical", "influence")
LEAD_SOURCES = ("Partner Referral", "Web", "Event", "Outbound", "Inbound", "")
NOTES = ("", "", "intro call", "joint demo", "POC support", "exec sponsor lunch", "QBR")
