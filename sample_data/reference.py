"""Fixed vocabularies of the sample company's world: countries, names, plans, products.

Everything here is static data; the generator only draws indices into these lists, so the
lists' order is part of the output's determinism. Append, do not reorder.
"""

from __future__ import annotations

# Word lists stay packed, not one word per line.
# fmt: off

# code, weight, billing currency, locale, country tld, cities
COUNTRIES = [
    ("US", 30.0, "usd", "en-US", ".com", ["New York", "San Francisco", "Austin", "Boston"]),
    ("GB", 10.0, "gbp", "en-GB", ".co.uk", ["London", "Manchester", "Edinburgh", "Bristol"]),
    ("DE", 10.0, "eur", "de-DE", ".de", ["Berlin", "Munich", "Hamburg", "Cologne"]),
    ("FR", 6.0, "eur", "fr-FR", ".fr", ["Paris", "Lyon", "Toulouse"]),
    ("NL", 5.0, "eur", "nl-NL", ".nl", ["Amsterdam", "Rotterdam", "Utrecht"]),
    ("CA", 6.0, "cad", "en-CA", ".ca", ["Toronto", "Vancouver", "Montreal"]),
    ("AU", 5.0, "aud", "en-AU", ".com.au", ["Sydney", "Melbourne", "Brisbane"]),
    ("SE", 3.0, "usd", "sv-SE", ".se", ["Stockholm", "Gothenburg"]),
    ("ES", 3.0, "eur", "es-ES", ".es", ["Madrid", "Barcelona", "Valencia"]),
    ("IT", 3.0, "eur", "it-IT", ".it", ["Milan", "Rome", "Turin"]),
    ("IE", 2.0, "eur", "en-IE", ".ie", ["Dublin", "Cork"]),
    ("CH", 2.0, "usd", "de-CH", ".ch", ["Zurich", "Geneva", "Basel"]),
    ("IN", 4.0, "usd", "en-IN", ".in", ["Bengaluru", "Mumbai", "Pune"]),
    ("BR", 3.0, "usd", "pt-BR", ".com.br", ["Sao Paulo", "Rio de Janeiro"]),
    ("JP", 2.0, "usd", "ja-JP", ".jp", ["Tokyo", "Osaka"]),
    ("SG", 2.0, "usd", "en-SG", ".sg", ["Singapore"]),
    ("DK", 1.5, "usd", "da-DK", ".dk", ["Copenhagen", "Aarhus"]),
    ("PL", 1.5, "usd", "pl-PL", ".pl", ["Warsaw", "Krakow"]),
    ("MX", 1.0, "usd", "es-MX", ".mx", ["Mexico City", "Guadalajara"]),
]
COUNTRY_CODES = [row[0] for row in COUNTRIES]
COUNTRY_WEIGHTS = [row[1] for row in COUNTRIES]

CURRENCIES = ["usd", "eur", "gbp", "cad", "aud"]
# Plans are priced in usd, eur and gbp. Canadian and Australian customers subscribe to the
# USD plans and are invoiced in their own currency through a fixed price book: the per-seat
# price times this percentage, rounded half up to whole currency units.
PRICE_BOOK_PERCENT = {"cad": 135, "aud": 150}
PLAN_CURRENCY = {"usd": "usd", "eur": "eur", "gbp": "gbp", "cad": "usd", "aud": "usd"}

INDUSTRIES = [
    "Software", "Financial Services", "Healthcare", "Retail", "Manufacturing", "Education",
    "Media", "Logistics", "Real Estate", "Professional Services",
]
INDUSTRY_WEIGHTS = [30, 12, 9, 10, 8, 6, 6, 6, 4, 9]

NAME_HEADS = [
    "Acme", "Blue", "North", "Bright", "Cloud", "Data", "Swift", "Iron", "Silver", "Green",
    "Red", "Clear", "Deep", "High", "Open", "True", "Nova", "Apex", "Peak", "Quant", "Vector",
    "Pixel", "Orbit", "Lumen", "Terra", "Aqua", "Solar", "Stone", "River", "Maple", "Cedar",
    "Oak", "Pine", "Falcon", "Eagle", "Fox", "Wolf", "Bear", "Lynx", "Otter", "Atlas", "Zen",
    "Echo", "Delta", "Sigma", "Alpha", "Omega", "Prime", "Core", "Nimbus", "Harbor", "Summit",
    "Vertex", "Pulse", "Spark", "Bolt", "Cobalt", "Amber", "Indigo", "Crimson", "Hyper",
    "Meta", "Micro", "Mega", "Neo", "Omni", "Pro", "Smart", "Rapid", "Brisk",
]
NAME_TAILS = [
    "ware", "works", "labs", "ly", "hub", "stack", "flow", "base", "point", "line", "field",
    "gate", "path", "soft", "tech", "logic", "mind", "scale", "bridge", "forge", "wave",
    "sense", "grid", "loop", "craft", "cast", "dock", "yard", "mark", "nest", "ify", "io",
    "ence", "ora", "ix", "tron", "nomics", "metrics", "sys", "net",
]
COMPANY_SUFFIXES = [
    "", "", "", " Inc", " Labs", " Systems", " Analytics", " Group", " Technologies", " Ltd",
]
GENERIC_TLDS = [".com", ".com", ".com", ".io", ".co", ".ai", ".app", ".dev", ".net", ".tech"]

FIRST_NAMES = [
    "James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda", "William",
    "Elizabeth", "David", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas",
    "Sarah", "Charles", "Karen", "Daniel", "Nancy", "Matthew", "Lisa", "Anthony", "Betty",
    "Mark", "Margaret", "Paul", "Sandra", "Steven", "Ashley", "Andrew", "Emily", "Kenneth",
    "Donna", "Joshua", "Michelle", "Kevin", "Carol", "Brian", "Amanda", "George", "Melissa",
    "Timothy", "Deborah", "Lukas", "Anna", "Leon", "Mia", "Finn", "Emma", "Noah", "Sofia",
    "Luca", "Chiara", "Hugo", "Louise", "Lars", "Ingrid", "Mateo", "Lucia", "Aarav", "Priya",
    "Yuki", "Haruto", "Wei", "Mei", "Olga", "Piotr", "Sean", "Aoife", "Diego", "Camila", "Jan",
    "Eva",
]
LAST_NAMES = [
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor",
    "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez",
    "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright",
    "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green", "Adams", "Nelson", "Baker", "Hall",
    "Muller", "Schmidt", "Schneider", "Fischer", "Weber", "Dubois", "Laurent", "Bernard",
    "Jansen", "de Vries", "Rossi", "Russo", "Andersson", "Johansson", "Kowalski", "Nowak",
    "Murphy", "O'Brien", "Sato", "Suzuki", "Tanaka", "Patel", "Sharma", "Singh", "Silva",
    "Santos", "Chen", "Wang", "Li", "Kim", "Park", "Novak", "Horvat", "Jensen", "Nielsen",
]
PERSONAL_EMAIL_DOMAINS = ["gmail.com", "outlook.com", "yahoo.com", "icloud.com"]
JOB_TITLES = [
    "CEO", "CFO", "CTO", "VP Engineering", "Head of Data", "Data Analyst",
    "Analytics Engineer", "Product Manager", "Software Engineer", "Operations Manager",
    "Finance Manager",
    "Marketing Manager", "Sales Director", "IT Administrator", "Founder",
]

USER_ROLES = ["admin", "member", "viewer"]

# (tier, per-seat monthly list price in usd/eur/gbp minor units). Yearly plans cost ten months.
TIERS = ["free", "starter", "growth", "enterprise"]
TIER_PRICES = {
    "starter": {"usd": 1500, "eur": 1400, "gbp": 1200},
    "growth": {"usd": 3900, "eur": 3600, "gbp": 3100},
    "enterprise": {"usd": 8900, "eur": 8200, "gbp": 7100},
}
# Prices before the 2024 price change: these plans are no longer sold (is_active = false) but
# subscriptions started in 2023 stay on them.
LEGACY_PRICES = {"starter": 1200, "growth": 2900}
PRICE_CHANGE_AT = (2024, 1, 1)
# Seats allowed per tier: (min, max).
TIER_SEATS = {"free": (1, 3), "starter": (1, 20), "growth": (3, 150), "enterprise": (10, 2000)}

PAYMENT_METHODS = ["card", "sepa_debit", "ach", "wire"]
FAILURE_REASONS = {
    "card": ["card_declined", "insufficient_funds", "expired_card", "authentication_required"],
    "sepa_debit": ["insufficient_funds", "account_closed", "debit_not_authorized"],
    "ach": ["insufficient_funds", "account_closed", "no_account"],
}

EVENT_NAMES = [
    "login", "page_view", "feature_used", "report_exported", "dashboard_created",
    "invite_sent", "api_call",
]
EVENT_WEIGHTS = [12, 40, 24, 5, 3, 3, 13]
FEATURES = [
    "dashboards", "alerts", "sql_editor", "exports", "sso", "audit_log", "integrations",
    "scheduled_reports",
]
PAGE_PATHS = [
    "/", "/dashboards", "/dashboards/{}", "/reports", "/reports/{}", "/settings",
    "/settings/billing", "/settings/members", "/integrations", "/alerts", "/onboarding",
]
API_PATHS = ["/api/v1/queries", "/api/v1/dashboards/{}", "/api/v1/reports/{}", "/api/v1/events"]
USER_AGENTS = [  # real user agents are long
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",  # noqa: E501
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",  # noqa: E501
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",  # noqa: E501
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36 Edg/124.0",  # noqa: E501
    "northwind-python/2.3.1",
    "northwind-cli/1.8.0",
]

LIFECYCLE_STAGES = [
    "lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity", "customer",
]
CRM_OWNERS = [f"owner_{number:02d}" for number in range(1, 13)]

FIRMOGRAPHIC_TAGS = [
    "b2b", "saas", "fintech", "ecommerce", "enterprise", "smb", "marketplace", "ai",
    "services", "hardware",
]
EMPLOYEE_RANGES = [
    (1, 10, "1-10"),
    (11, 50, "11-50"),
    (51, 250, "51-250"),
    (251, 1000, "251-1000"),
    (1001, 5000, "1001-5000"),
    (5001, 10**9, "5001+"),
]

FX_CURRENCIES = ["EUR", "GBP", "CAD", "AUD"]
FX_START_RATES = [0.93, 0.82, 1.35, 1.48]
MONTH_ABBREVIATIONS = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
]
# fmt: on
