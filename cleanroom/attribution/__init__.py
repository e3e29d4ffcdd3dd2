"""Partner attribution: pure functions over pseudonymous joined deal and touch records.

Nothing here reads a file or knows an account's identity: a deal is the
vendor's row reference with its money and dates, a touch is a partner's role
and date on a matched account. The coordinator runs these models after the
PSI join; tests run them on hand-worked examples.
"""

from cleanroom.attribution.commissions import (
    FixedFeePlan,
    HybridPlan,
    PercentagePlan,
    Period,
    Plan,
    Statement,
    StatementLine,
    Tier,
    TieredPlan,
    commission_statement,
    month_period,
    parse_plan,
    quarter_period,
)
from cleanroom.attribution.config import MODELS, PARTNER_FIELDS, SPLIT_MODELS, AttributionConfig
from cleanroom.attribution.eligibility import eligible_touches, reference_date
from cleanroom.attribution.engine import DealCredit, credit_deal, credit_deals
from cleanroom.attribution.metrics import ecosystem_metrics
from cleanroom.attribution.models import MODEL_FUNCTIONS, Shares
from cleanroom.attribution.records import DEAL_TYPES, OUTCOMES, ROLES, Deal, Touch
from cleanroom.attribution.summary import PartnerSummary, partner_release, summarize_partners

__all__ = [
    "DEAL_TYPES",
    "MODELS",
    "MODEL_FUNCTIONS",
    "OUTCOMES",
    "PARTNER_FIELDS",
    "ROLES",
    "SPLIT_MODELS",
    "AttributionConfig",
    "Deal",
    "DealCredit",
    "FixedFeePlan",
    "HybridPlan",
    "PartnerSummary",
    "PercentagePlan",
    "Period",
    "Plan",
    "Shares",
    "Statement",
    "StatementLine",
    "Tier",
    "TieredPlan",
    "Touch",
    "commission_statement",
    "credit_deal",
    "credit_deals",
    "ecosystem_metrics",
    "eligible_touches",
    "month_period",
    "parse_plan",
    "partner_release",
    "quarter_period",
    "reference_date",
    "summarize_partners",
]
