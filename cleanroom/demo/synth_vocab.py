"""The synthetic account exports' vocabulary: headers, stage spellings, name parts, domains and key spellings.

Tables only, no logic: synth.py draws companies and rows from them; synth_deals.py
uses the owners and the website/domain spellings too (and the name parts, through
synth_companies.Universe). Changing any table changes the generated files for every seed.
"""

from __future__ import annotations

SALESFORCE_HEADERS = [
    "Account ID",
    "Account Name",
    "Website",
    "Type",
    "Billing Country",
    "Account Owner",
    "Industry",
    "Annual Revenue",
    "Last Activity",
]
HUBSPOT_HEADERS = [
    "Record ID",
    "Company name",
    "Company Domain Name",
    "Website URL",
    "Lifecycle Stage",
    "Country/Region",
    "Company owner",
    "Annual Revenue",
    "Last Activity Date",
]

# Stage spellings per plan code (customer, prospect, opportunity, unmapped).
SF_TYPES = (("Customer - Direct", "Customer - Channel"), ("Prospect",), ("Opportunity",), ("Partner", "Competitor", "Other", ""))
HS_STAGES = (
    ("customer", "Customer", "evangelist", "Evangelist"),
    (
        "lead",
        "Lead",
        "subscriber",
        "Subscriber",
        "marketingqualifiedlead",
        "Marketing Qualified Lead",
        "salesqualifiedlead",
        "Sales Qualified Lead",
    ),
    ("opportunity", "Opportunity"),
    ("other", "Other", ""),
)

# Company stems are fixed-width syllable words from a bijection of the company index:
# distinct companies therefore never share a registrable domain (no digits in names either).
SYLLABLES = [c + v for c in "bcdfghklmnprstvz" for v in "aeiou"]
SYLLABLE_PAIRS = [a + b for b in SYLLABLES for a in SYLLABLES]  # pair index d = a + 80 * b, same order as one at a time
WORDS = [
    "labs",
    "systems",
    "works",
    "data",
    "cloud",
    "health",
    "bank",
    "logistics",
    "foods",
    "energy",
    "media",
    "robotics",
    "analytics",
    "security",
    "retail",
    "motors",
    "capital",
    "bio",
    "software",
    "networks",
]
SUFFIXES = ["com"] * 9 + ["io", "net", "co.uk", "com.au", "de", "co.jp", "fr", "ai", "org", "com.br", "ca", "nl"]
TWIN_SUFFIXES = ["co.uk", "com.au", "de", "io"]  # a look-alike of an X.com company lives on one of these
IDN_CITIES = [
    ("münchen", "de"),
    ("zürich", "ch"),
    ("köln", "de"),
    ("malmö", "se"),
    ("québec", "ca"),
    ("são-paulo", "com.br"),
    ("ålesund", "no"),
    ("düsseldorf", "de"),
    ("göteborg", "se"),
    ("besançon", "fr"),
]
LEGAL = ["Inc", "Inc.", "LLC", "Ltd", "Ltd.", "GmbH", "Corp", "", "", "S.A.", "Pty Ltd", "B.V.", "AG", "KK"]
COUNTRIES = [
    ("United States", "USA", "US"),
    ("United Kingdom", "UK", "GB"),
    ("Germany", "DE", "Deutschland"),
    ("France", "FR"),
    ("Australia", "AU"),
    ("Japan", "JP"),
    ("Canada", "CA"),
    ("Brazil", "Brasil", "BR"),
]
OWNERS = [
    "Dana Scully",
    "Fox Mulder",
    "Walter Skinner",
    "Monica Reyes",
    "John Doggett",
    "Priya Natarajan",
    "Lars Eriksson",
    "Aiko Tanaka",
    "Chloé Martin",
    "Mateus Silva",
    "Grace Hopper",
    "Ada Byron",
]
INDUSTRIES = ["Software", "Healthcare", "Financial Services", "Manufacturing", "Retail", "Energy", "Media", "Logistics", ""]
PEOPLE = ["jane.doe", "bob", "cto.mike", "info", "j.smith", "accounts", "maria.g", "kim99"]
FREEMAIL = [
    "gmail.com",
    "yahoo.com",
    "hotmail.com",
    "outlook.com",
    "icloud.com",
    "aol.com",
    "gmx.de",
    "proton.me",
    "yahoo.co.uk",
    "web.de",
]
DISPOSABLE = ["mailinator.com", "guerrillamail.com", "10minutemail.com", "yopmail.com"]
GARBAGE = ["", "", "", "n/a", "N/A", "-", "http://", "https://", "none", "   ", "TBD", "http://10.0.0.1/"]

# Usable spellings of a host h (H = upper case). Every one canonicalises to h's registrable domain.
WEBSITE_FORMS = [
    "{h}",
    "{h}",
    "{h}",
    "www.{h}",
    "www.{h}",
    "https://www.{h}",
    "http://{h}",
    "https://www.{h}/about?x=1",
    "http://{h}:8080",
    "https://{h}/en-us/",
    "{H}",
    "WWW.{H}",
    "{h}.",
    "www.{h}.",
    " www.{h} ",
    "http://app.{h}",
    "https://eu.app.{h}/login",
    "contact@{h}",
    "sales@{h}",
    "HTTPS://WWW.{H}/",
    "https://www.{h}/#contact",
    "{C}",
]
DOMAIN_FORMS = [
    "{h}",
    "{h}",
    "{h}",
    "{h}",
    "www.{h}",
    "{H}",
    "{C}",
    "{h}.",
    "app.{h}",
    "info@{h}",
    " {h} ",
]  # HubSpot "Company Domain Name"
