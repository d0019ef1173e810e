"""A realistic generated catalog and a labelled set of search queries over it.

`catalog()` builds ~3,000 assets of a mid-sized company's data stack, the same every time: seven
business domains (sales, finance, marketing, people, supply chain, product, support), each with
raw tables as the sources land them, dbt staging models, documented and owned marts
(`fct_`/`dim_`), daily and monthly aggregates, snapshots, deprecated backups and analysts'
sandbox copies that reuse the same words; plus dashboards, pipelines, Kafka topics, ML models,
glossary terms, users, teams, tags and domains. Tables have typed, described columns.

`QUERIES` are what people type, each with the asset a data user expects first: exact names,
business phrases, column names, typos, partial words, FQN fragments, and filtered queries.
Used by bench/search_relevance.py (MRR, nDCG@10) and tests/search/test_relevance.py.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

WAREHOUSE = "warehouse"


@dataclass(frozen=True)
class Entity:
    name: str  # plural snake_case, as a source calls it
    domain: str
    source: str  # the raw schema (the system it comes from)
    mart: str  # fct or dim
    phrase: str  # the business description of the mart
    columns: tuple[tuple[str, str, str], ...]  # (name, type, description) shared by all layers
    metrics: tuple[tuple[str, str, str], ...] = ()  # only in the mart
    pii: tuple[str, ...] = ()


def _c(name: str, dtype: str, desc: str) -> tuple[str, str, str]:
    return (name, dtype, desc)


ID = _c("id", "bigint", "Surrogate key.")
CREATED = _c("created_at", "timestamp", "When the record was created in the source.")
UPDATED = _c("updated_at", "timestamp", "When the record last changed in the source.")

ENTITIES: tuple[Entity, ...] = (
    # -- sales ---------------------------------------------------------------------------
    Entity("orders", "Sales", "shopify", "fct", "The order fact table: one row per order placed "
           "in the web shop or the mobile app, with amounts in USD.",
           (ID, _c("order_number", "varchar", "Number printed on the receipt."),
            _c("customer_id", "bigint", "The customer who ordered."),
            _c("order_total", "numeric(12,2)", "Order value incl. tax and shipping."), CREATED),
           (_c("is_first_order", "boolean", "Whether it is the customer's first order."),
            _c("gross_margin", "numeric(12,2)", "Revenue minus cost of goods sold."))),
    Entity("order_items", "Sales", "shopify", "fct", "Order lines: one row per product in an "
           "order, with quantity, unit price and discount.",
           (ID, _c("order_id", "bigint", "The order."), _c("sku", "varchar", "Stock keeping unit."),
            _c("quantity", "int", "Units ordered."), _c("unit_price", "numeric(12,2)", "Price.")),
           (_c("line_discount", "numeric(12,2)", "Discount applied to the line."),)),
    Entity("customers", "Sales", "shopify", "dim", "Customer dimension: one row per customer "
           "with lifetime value, segment and first and last order dates.",
           (ID, _c("email", "varchar", "Login and contact email."),
            _c("first_name", "varchar", "Given name."), _c("last_name", "varchar", "Family name."),
            CREATED),
           (_c("customer_segment", "varchar", "VIP, regular, at risk or dormant."),
            _c("lifetime_value", "numeric(12,2)", "Revenue from the customer to date.")),
           ("email", "first_name", "last_name")),
    Entity("customer_addresses", "Sales", "shopify", "dim", "Postal addresses of customers: "
           "shipping and billing, one row per address, geocoded.",
           (ID, _c("customer_id", "bigint", "Whose address."), _c("street", "varchar", "Street."),
            _c("postal_code", "varchar", "ZIP or postal code."), _c("country_code", "char(2)",
            "ISO 3166 country.")),
           (_c("latitude", "double", "Geocoded latitude."),), ("street", "postal_code")),
    Entity("refunds", "Sales", "stripe", "fct", "Money given back to customers for returned or "
           "damaged goods, one row per refund.",
           (ID, _c("charge_id", "varchar", "The refunded charge."),
            _c("amount", "numeric(12,2)", "Refunded amount."), _c("reason", "varchar", "Why."),
            CREATED),
           (_c("refund_rate", "double", "Refunds over charges for the day."),)),
    Entity("payments", "Sales", "stripe", "fct", "Card and wallet payments captured by Stripe, "
           "one row per successful charge.",
           (ID, _c("charge_id", "varchar", "Stripe charge."), _c("amount", "numeric(12,2)",
            "Captured amount."), _c("currency", "char(3)", "ISO 4217."), CREATED),
           (_c("processing_fee", "numeric(12,2)", "What Stripe kept."),)),
    Entity("opportunities", "Sales", "salesforce", "fct", "B2B sales pipeline: deals from "
           "qualification to closed won or lost, with expected amount and stage.",
           (ID, _c("account_id", "varchar", "The prospect account."),
            _c("stage_name", "varchar", "Pipeline stage."), _c("amount", "numeric(14,2)",
            "Expected deal value."), _c("close_date", "date", "Expected close date.")),
           (_c("win_probability", "double", "Modelled chance to close won."),)),
    Entity("accounts", "Sales", "salesforce", "dim", "Business customers and prospects from the "
           "CRM, one row per company account.",
           (ID, _c("account_name", "varchar", "Company name."), _c("industry", "varchar",
            "Industry."), _c("employee_count", "int", "Company size."), CREATED),
           (_c("annual_contract_value", "numeric(14,2)", "ACV of active contracts."),)),
    Entity("carts", "Sales", "shopify", "fct", "Shopping carts, including abandoned carts that "
           "never became an order.",
           (ID, _c("session_id", "varchar", "Web session."), _c("item_count", "int", "Items."),
            CREATED),
           (_c("abandoned_flag", "boolean", "No order within 24 hours."),)),
    # -- finance -------------------------------------------------------------------------
    Entity("journal_entries", "Finance", "netsuite", "fct", "General ledger journal entries: "
           "debits and credits per account and period, as booked by accounting.",
           (ID, _c("gl_account", "varchar", "Chart of accounts number."),
            _c("debit", "numeric(14,2)", "Debit amount."), _c("credit", "numeric(14,2)",
            "Credit amount."), _c("posting_period", "varchar", "Fiscal period.")),
           (_c("is_adjustment", "boolean", "Manual period-end adjustment."),)),
    Entity("invoices", "Finance", "netsuite", "fct", "Invoices issued to business customers, "
           "with due dates and payment status (accounts receivable).",
           (ID, _c("invoice_number", "varchar", "Printed on the invoice."),
            _c("due_date", "date", "Payment due."), _c("amount_due", "numeric(14,2)", "Open."),
            CREATED),
           (_c("days_past_due", "int", "Days overdue at snapshot."),)),
    Entity("vendor_bills", "Finance", "netsuite", "fct", "Bills from suppliers awaiting payment "
           "(accounts payable), one row per bill.",
           (ID, _c("vendor_id", "varchar", "The supplier."), _c("bill_amount", "numeric(14,2)",
            "Amount billed."), _c("due_date", "date", "When to pay."), CREATED),
           (_c("early_payment_discount", "numeric(14,2)", "Discount if paid early."),)),
    Entity("fx_rates", "Finance", "ecb", "dim", "Foreign exchange rates: daily reference rates "
           "per currency pair from the European Central Bank.",
           (_c("rate_date", "date", "Day of the rate."), _c("base_currency", "char(3)", "From."),
            _c("quote_currency", "char(3)", "To."), _c("rate", "double", "Mid rate.")),
           (_c("inverse_rate", "double", "1 / rate."),)),
    Entity("budgets", "Finance", "anaplan", "fct", "Approved budget per cost center and month, "
           "for plan versus actual reporting.",
           (_c("cost_center", "varchar", "Cost center code."), _c("budget_month", "date",
            "Month."), _c("budget_amount", "numeric(14,2)", "Approved budget.")),
           (_c("variance_to_actual", "numeric(14,2)", "Actual minus budget."),)),
    Entity("subscriptions_revenue", "Finance", "chargebee", "fct", "Monthly recurring revenue "
           "(MRR) and annual recurring revenue per subscription and month.",
           (ID, _c("subscription_id", "varchar", "Chargebee subscription."),
            _c("plan_code", "varchar", "Plan."), _c("mrr", "numeric(12,2)", "Monthly recurring "
            "revenue."), _c("revenue_month", "date", "Month.")),
           (_c("net_revenue_retention", "double", "NRR of the cohort."),
            _c("arr", "numeric(14,2)", "Annual recurring revenue."))),
    Entity("tax_rates", "Finance", "avalara", "dim", "Sales tax and VAT rates per jurisdiction "
           "and product tax code.",
           (_c("jurisdiction", "varchar", "State, county or country."),
            _c("tax_code", "varchar", "Product tax code."), _c("rate", "double", "Tax rate.")),
           (_c("effective_from", "date", "When the rate starts."),)),
    # -- marketing -----------------------------------------------------------------------
    Entity("campaigns", "Marketing", "hubspot", "dim", "Marketing campaigns across email, paid "
           "social and search, with budget and owner.",
           (ID, _c("campaign_name", "varchar", "Name."), _c("channel", "varchar", "Channel."),
            _c("start_date", "date", "Launch.")),
           (_c("planned_budget", "numeric(12,2)", "Budget."),)),
    Entity("ad_spend", "Marketing", "google_ads", "fct", "Daily advertising spend, clicks and "
           "impressions per campaign and ad network.",
           (_c("spend_date", "date", "Day."), _c("campaign_id", "varchar", "Campaign."),
            _c("impressions", "bigint", "Ads shown."), _c("clicks", "bigint", "Clicks."),
            _c("cost_usd", "numeric(12,2)", "Spend.")),
           (_c("cost_per_click", "numeric(12,4)", "CPC."), _c("roas", "double",
            "Return on ad spend."))),
    Entity("email_sends", "Marketing", "hubspot", "fct", "Marketing emails sent, opened, "
           "clicked and bounced, one row per recipient and send.",
           (ID, _c("campaign_id", "varchar", "Campaign."), _c("recipient_email", "varchar",
            "Who."), _c("opened_at", "timestamp", "First open.")),
           (_c("unsubscribe_flag", "boolean", "Unsubscribed from this email."),),
           ("recipient_email",)),
    Entity("web_sessions", "Marketing", "segment", "fct", "Website sessions with traffic source, "
           "UTM parameters, landing page and marketing attribution.",
           (_c("session_id", "varchar", "Session."), _c("anonymous_id", "varchar", "Device."),
            _c("utm_source", "varchar", "UTM source."), _c("landing_page", "varchar", "URL.")),
           (_c("attributed_channel", "varchar", "Last-touch channel."),
            _c("bounce_flag", "boolean", "Left after one page."))),
    Entity("leads", "Marketing", "hubspot", "dim", "Marketing qualified leads with lead score and "
           "lifecycle stage.",
           (ID, _c("email", "varchar", "Lead email."), _c("company", "varchar", "Company."),
            CREATED),
           (_c("lead_score", "int", "Fit and engagement score."),), ("email",)),
    # -- people --------------------------------------------------------------------------
    Entity("employees", "People", "workday", "dim", "Employee directory: one row per employee "
           "with department, manager, location and employment status.",
           (ID, _c("employee_number", "varchar", "Workday number."), _c("full_name", "varchar",
            "Name."), _c("department", "varchar", "Department."), _c("hire_date", "date",
            "Start date.")),
           (_c("manager_employee_id", "bigint", "Line manager."),
            _c("tenure_months", "int", "Months since hire.")), ("full_name",)),
    Entity("payroll", "People", "adp", "fct", "Payroll runs: gross pay, deductions and net pay "
           "per employee and pay period.",
           (_c("employee_id", "bigint", "Employee."), _c("pay_period", "date", "Period end."),
            _c("gross_pay", "numeric(12,2)", "Before deductions."), _c("net_pay", "numeric(12,2)",
            "Paid out.")),
           (_c("employer_taxes", "numeric(12,2)", "Employer social charges."),),
           ("gross_pay", "net_pay")),
    Entity("time_off", "People", "workday", "fct", "Vacation, sick leave and parental leave "
           "requests with approval status.",
           (ID, _c("employee_id", "bigint", "Who."), _c("leave_type", "varchar", "Kind of leave."),
            _c("start_date", "date", "From."), _c("end_date", "date", "To.")),
           (_c("days_taken", "double", "Working days."),)),
    Entity("job_requisitions", "People", "greenhouse", "fct", "Open positions and hiring "
           "pipeline: requisitions, candidates and offers.",
           (ID, _c("job_title", "varchar", "Title."), _c("department", "varchar", "Team."),
            _c("opened_at", "timestamp", "Opened.")),
           (_c("time_to_fill_days", "int", "Days from opening to accepted offer."),)),
    Entity("headcount", "People", "workday", "fct", "Monthly headcount, hires and attrition per "
           "department and country.",
           (_c("month", "date", "Month."), _c("department", "varchar", "Department."),
            _c("headcount", "int", "Employees at month end.")),
           (_c("attrition_rate", "double", "Leavers over average headcount."),)),
    # -- supply chain --------------------------------------------------------------------
    Entity("inventory_levels", "Supply Chain", "netsuite", "fct", "Stock on hand per SKU and "
           "warehouse at the end of each day.",
           (_c("snapshot_date", "date", "Day."), _c("sku", "varchar", "SKU."),
            _c("warehouse_code", "varchar", "Warehouse."), _c("on_hand_qty", "int", "Units.")),
           (_c("days_of_supply", "double", "On hand over forecast daily demand."),)),
    Entity("purchase_orders", "Supply Chain", "netsuite", "fct", "Purchase orders to suppliers "
           "with expected delivery dates and received quantities.",
           (ID, _c("supplier_id", "varchar", "Supplier."), _c("expected_date", "date", "ETA."),
            _c("ordered_qty", "int", "Units ordered.")),
           (_c("fill_rate", "double", "Received over ordered."),)),
    Entity("suppliers", "Supply Chain", "netsuite", "dim", "Suppliers and vendors: contacts, "
           "payment terms, country and lead times.",
           (ID, _c("supplier_name", "varchar", "Name."), _c("contact_email", "varchar",
            "Contact."), _c("payment_terms", "varchar", "Net 30, ...")),
           (_c("avg_lead_time_days", "double", "Order to delivery."),), ("contact_email",)),
    Entity("shipments", "Supply Chain", "shipbob", "fct", "Outbound parcels handed to carriers, "
           "with tracking numbers and delivery times.",
           (ID, _c("order_id", "bigint", "Order shipped."), _c("carrier", "varchar", "UPS, ..."),
            _c("tracking_number", "varchar", "Carrier tracking."), _c("shipped_at", "timestamp",
            "Handed over.")),
           (_c("delivery_days", "double", "Shipped to delivered."),)),
    Entity("demand_forecast", "Supply Chain", "planning", "fct", "Weekly demand forecast per "
           "SKU from the planning model, with prediction intervals.",
           (_c("week", "date", "Week."), _c("sku", "varchar", "SKU."), _c("forecast_units",
            "double", "Expected units.")),
           (_c("forecast_p90", "double", "90th percentile."),)),
    # -- product -------------------------------------------------------------------------
    Entity("user_events", "Product", "segment", "fct", "Product analytics events tracked in the "
           "app: clicks, screens and feature usage.",
           (_c("event_id", "varchar", "Event."), _c("user_id", "varchar", "User."),
            _c("event_name", "varchar", "What happened."), _c("event_ts", "timestamp", "When.")),
           (_c("feature_area", "varchar", "Product area."),)),
    Entity("experiments", "Product", "optimizely", "dim", "A/B tests: variants, exposure and "
           "conversion per experiment.",
           (ID, _c("experiment_key", "varchar", "Key."), _c("variant", "varchar", "Arm."),
            _c("started_at", "timestamp", "Start.")),
           (_c("conversion_lift", "double", "Lift over control."),
            _c("p_value", "double", "Significance."))),
    Entity("feature_flags", "Product", "launchdarkly", "dim", "Feature flags and their rollout "
           "percentage per environment.",
           (_c("flag_key", "varchar", "Key."), _c("environment", "varchar", "Env."),
            _c("rollout_pct", "double", "Share of users.")),
           (_c("stale_flag", "boolean", "Not changed for 90 days."),)),
    Entity("app_subscriptions", "Product", "chargebee", "dim", "Customer subscriptions to paid "
           "plans: trials, upgrades, downgrades and cancellations.",
           (ID, _c("plan_code", "varchar", "Plan."), _c("status", "varchar", "Status."),
            _c("trial_end", "date", "Trial end.")),
           (_c("churn_probability", "double", "Modelled chance to cancel in 30 days."),)),
    Entity("nps_responses", "Product", "delighted", "fct", "Net promoter score survey answers "
           "with the free-text comment.",
           (ID, _c("score", "int", "0 to 10."), _c("comment", "text", "Verbatim."), CREATED),
           (_c("promoter_flag", "boolean", "Score 9 or 10."),)),
    # -- support -------------------------------------------------------------------------
    Entity("tickets", "Support", "zendesk", "fct", "Customer support tickets with priority, "
           "channel, first response and resolution times.",
           (ID, _c("subject", "varchar", "Subject."), _c("priority", "varchar", "Priority."),
            _c("requester_email", "varchar", "Customer."), CREATED),
           (_c("first_response_minutes", "double", "Minutes to first reply."),
            _c("sla_breached", "boolean", "Missed the SLA."))),
    Entity("csat_ratings", "Support", "zendesk", "fct", "Customer satisfaction ratings after a "
           "ticket is solved.",
           (ID, _c("ticket_id", "bigint", "Ticket."), _c("rating", "varchar", "Good or bad.")),
           (_c("csat_score", "double", "Share of good ratings."),)),
    Entity("agents", "Support", "zendesk", "dim", "Support agents, their teams and schedules.",
           (ID, _c("agent_name", "varchar", "Name."), _c("team", "varchar", "Support team.")),
           (_c("tickets_per_hour", "double", "Productivity."),)),
)  # fmt: skip

DOMAIN_SCHEMA = {
    "Sales": "sales",
    "Finance": "finance",
    "Marketing": "marketing",
    "People": "people",
    "Supply Chain": "supply_chain",
    "Product": "product",
    "Support": "support",
}
DOMAIN_TEAM = {
    "Sales": "sales_analytics",
    "Finance": "finance_data",
    "Marketing": "growth",
    "People": "people_ops",
    "Supply Chain": "ops_analytics",
    "Product": "product_analytics",
    "Support": "cx_analytics",
}
USERS = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy"]
ANALYSTS = ["mallory", "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor"]


def mart_name(e: Entity) -> str:
    return f"{e.mart}_{e.name}"


def mart_fqn(e: Entity) -> str:
    return f"{WAREHOUSE}.analytics.{DOMAIN_SCHEMA[e.domain]}.{mart_name(e)}"


def _columns(cols: tuple[tuple[str, str, str], ...], pii: tuple[str, ...]) -> list[dict[str, Any]]:
    out = []
    for name, dtype, desc in cols:
        c: dict[str, Any] = {"name": name, "data_type": dtype, "description": desc}
        if name in pii:
            c["tags"] = ["PII.Sensitive"]
        out.append(c)
    return out


def _base() -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = []
    lines += [{"kind": "user", "name": u, "email": f"{u}@example.com"} for u in USERS + ANALYSTS]
    lines += [
        {"kind": "team", "name": t, "members": USERS[i % 10 : i % 10 + 2]}
        for i, t in enumerate(DOMAIN_TEAM.values())
    ]
    lines += [{"kind": "domain", "name": d.replace(" ", "_")} for d in DOMAIN_SCHEMA]
    lines += [
        {"kind": "classification", "name": "PII"},
        {"kind": "tag", "name": "Sensitive", "classification": "PII"},
        {"kind": "classification", "name": "Tier"},
        *({"kind": "tag", "name": f"Tier{n}", "classification": "Tier"} for n in (1, 2, 3)),
        {"kind": "classification", "name": "Certification"},
        {"kind": "tag", "name": "Gold", "classification": "Certification"},
        {"kind": "classification", "name": "Lifecycle"},
        {"kind": "tag", "name": "Deprecated", "classification": "Lifecycle"},
        {"kind": "glossary", "name": "Business"},
        {"kind": "custom_property", "name": "popularity", "entity_kind": "table",
         "property_type": "number"},
        {"kind": "service", "name": WAREHOUSE, "category": "database",
         "service_type": "snowflake", "description": "The Snowflake data warehouse."},
        {"kind": "database", "name": "raw", "service": WAREHOUSE,
         "description": "Source data as the loaders land it."},
        {"kind": "database", "name": "analytics", "service": WAREHOUSE,
         "description": "dbt models: staging, marts and aggregates."},
        {"kind": "schema", "name": "staging", "database": f"{WAREHOUSE}.analytics"},
        {"kind": "schema", "name": "sandbox", "database": f"{WAREHOUSE}.analytics",
         "description": "Analysts' scratch tables; nothing here is maintained."},
        {"kind": "service", "name": "looker", "category": "dashboard", "service_type": "looker"},
        {"kind": "service", "name": "airflow", "category": "pipeline", "service_type": "airflow"},
        {"kind": "service", "name": "kafka", "category": "messaging", "service_type": "kafka"},
        {"kind": "service", "name": "mlflow", "category": "ml_model", "service_type": "mlflow"},
    ]  # fmt: skip
    sources = sorted({e.source for e in ENTITIES})
    lines += [
        {"kind": "schema", "name": s, "database": f"{WAREHOUSE}.raw",
         "description": f"Tables loaded from {s.replace('_', ' ').title()}."}
        for s in sources
    ]  # fmt: skip
    lines += [
        {"kind": "schema", "name": s, "database": f"{WAREHOUSE}.analytics",
         "description": f"{d} marts."}
        for d, s in DOMAIN_SCHEMA.items()
    ]  # fmt: skip
    return lines


GLOSSARY = {
    "Monthly Recurring Revenue": ("subscriptions_revenue", "Revenue from subscriptions "
                                  "normalised to one month; MRR."),
    "Churn": ("app_subscriptions", "A customer who cancels or does not renew."),
    "Customer Lifetime Value": ("customers", "Total revenue expected from a customer; CLV."),
    "Gross Margin": ("orders", "Revenue minus cost of goods sold."),
    "Net Promoter Score": ("nps_responses", "Promoters minus detractors; NPS."),
    "Days Sales Outstanding": ("invoices", "Average days to collect receivables; DSO."),
    "Attrition": ("headcount", "Employees leaving over a period."),
    "Return on Ad Spend": ("ad_spend", "Revenue from ads over ad spend; ROAS."),
}  # fmt: skip


def catalog(seed: int = 7) -> list[dict[str, Any]]:
    """Every asset as a bulk line (`kind` + body), parents first; the same for a seed."""
    rng = random.Random(seed)
    lines = _base()
    for term, (_entity, desc) in GLOSSARY.items():
        lines.append(
            {
                "kind": "glossary_term",
                "name": term.replace(" ", "_"),
                "glossary": "Business",
                "display_name": term,
                "description": desc,
            }
        )
    tables: list[dict[str, Any]] = []
    for i, e in enumerate(ENTITIES):
        schema = DOMAIN_SCHEMA[e.domain]
        words = e.name.replace("_", " ")
        domain = e.domain.replace(" ", "_")
        team = DOMAIN_TEAM[e.domain]
        base_cols = _columns((*e.columns, UPDATED), e.pii)
        terms = [f"Business.{t.replace(' ', '_')}" for t, (x, _) in GLOSSARY.items() if x == e.name]
        tables.append({"kind": "table", "name": e.name, "schema": f"{WAREHOUSE}.raw.{e.source}",
                       "description": f"Raw {words} from {e.source}, loaded as is every hour.",
                       "columns": base_cols, "tags": ["Tier.Tier3"],
                       "custom_properties": {"popularity": rng.randint(0, 40)}})  # fmt: skip
        tables.append({"kind": "table", "name": f"stg_{e.source}__{e.name}",
                       "schema": f"{WAREHOUSE}.analytics.staging",
                       "description": f"Staged {words}: renamed, typed and deduplicated.",
                       "columns": base_cols, "owners": [{"kind": "team", "fqn": team}],
                       "tags": ["Tier.Tier3"], "domain": domain,
                       "custom_properties": {"popularity": rng.randint(10, 120)}})  # fmt: skip
        mart_cols = _columns((*e.columns, *e.metrics, UPDATED), e.pii)
        tables.append({"kind": "table", "name": mart_name(e),
                       "schema": f"{WAREHOUSE}.analytics.{schema}", "description": e.phrase,
                       "columns": mart_cols, "domain": domain, "glossary_terms": terms,
                       "owners": [{"kind": "team", "fqn": team},
                                  {"kind": "user", "fqn": USERS[i % len(USERS)]}],
                       "tags": ["Tier.Tier1", "Certification.Gold"],
                       "custom_properties": {"popularity": rng.randint(300, 1000)}})  # fmt: skip
        if e.mart == "fct":
            for grain in ("daily", "weekly", "monthly"):
                tables.append(
                    {
                        "kind": "table",
                        "name": f"agg_{e.name}_{grain}",
                        "schema": f"{WAREHOUSE}.analytics.{schema}",
                        "description": f"{words.capitalize()} rolled up per {grain[:-2]}"
                        f"{'y' if grain == 'daily' else ''}.".replace("dayy", "day"),
                        "columns": _columns(e.columns[:3], ()),
                        "domain": domain,
                        "owners": [{"kind": "team", "fqn": team}],
                        "tags": ["Tier.Tier2"],
                        "custom_properties": {"popularity": rng.randint(20, 300)},
                    }
                )
        tables.append({"kind": "table", "name": f"{mart_name(e)}_snapshot",
                       "schema": f"{WAREHOUSE}.analytics.{schema}",
                       "description": f"Nightly snapshot of {mart_name(e)} for point-in-time "
                       "reporting.", "columns": mart_cols, "domain": domain,
                       "tags": ["Tier.Tier3"]})  # fmt: skip
        tables.append({"kind": "table", "name": f"{mart_name(e)}_backup_2023",
                       "schema": f"{WAREHOUSE}.analytics.{schema}",
                       "description": f"DEPRECATED copy of {words} from the 2023 migration; "
                       "do not use.", "columns": mart_cols,
                       "tags": ["Lifecycle.Deprecated"]})  # fmt: skip
        tables.append({"kind": "table", "name": f"{mart_name(e)}_v2_test",
                       "schema": f"{WAREHOUSE}.analytics.{schema}",
                       "columns": mart_cols})  # fmt: skip
    # Analysts' scratch copies: the same words, no description, no owner.
    suffixes = ["copy", "tmp", "old", "test", "final", "final2", "wip", "bak", "export", "check"]
    for a in ANALYSTS:
        for e in rng.sample(ENTITIES, 35):
            for _ in range(rng.randint(4, 9)):
                name = f"{a}_{e.name}_{rng.choice(suffixes)}_{rng.randint(1, 999)}"
                cols = _columns(tuple(rng.sample(e.columns, min(3, len(e.columns)))), ())
                tables.append({"kind": "table", "name": name,
                               "schema": f"{WAREHOUSE}.analytics.sandbox", "columns": cols,
                               "custom_properties": {"popularity": rng.randint(0, 5)}})  # fmt: skip
    # Dashboards, pipelines, topics and models over the same entities.
    for i, e in enumerate(ENTITIES):
        words = e.name.replace("_", " ")
        domain = e.domain.replace(" ", "_")
        team = DOMAIN_TEAM[e.domain]
        lines_ = [
            {"kind": "dashboard", "name": f"{e.name}_overview", "service": "looker",
             "display_name": f"{words.title()} overview",
             "description": f"{e.domain} dashboard: {words} trends, KPIs and breakdowns.",
             "owners": [{"kind": "team", "fqn": team}], "domain": domain},
            {"kind": "dashboard", "name": f"{e.name}_deep_dive", "service": "looker",
             "display_name": f"{words.title()} deep dive",
             "description": f"Drill-down of {words} by segment, region and channel."},
            {"kind": "pipeline", "name": f"load_{e.source}_{e.name}", "service": "airflow",
             "description": f"Loads {words} from {e.source} into the raw schema every hour.",
             "owners": [{"kind": "team", "fqn": team}]},
        ]  # fmt: skip
        if i % 3 == 0:
            lines_.append(
                {
                    "kind": "topic",
                    "name": f"{e.source}.{e.name}.changes",
                    "service": "kafka",
                    "description": f"Change events of {words} from {e.source}.",
                }
            )
        tables.extend(lines_)
    tables.append({"kind": "ml_model", "name": "churn_predictor", "service": "mlflow",
                   "description": "Gradient boosted model that scores each subscription's "
                   "probability to churn in the next 30 days.",
                   "owners": [{"kind": "team", "fqn": "product_analytics"}]})  # fmt: skip
    tables.append(
        {
            "kind": "ml_model",
            "name": "demand_forecaster",
            "service": "mlflow",
            "description": "Forecasts weekly demand per SKU for replenishment.",
        }
    )
    return lines + tables


@dataclass(frozen=True)
class Query:
    q: str
    expected: str  # FQN of the best result
    kind: str = "table"  # the expected asset's kind
    filters: dict[str, list[str]] = field(default_factory=dict)
    why: str = ""


def _m(name: str) -> str:
    return next(mart_fqn(e) for e in ENTITIES if e.name == name)


QUERIES: tuple[Query, ...] = (
    # exact names and identifiers as typed
    Query("fct_orders", _m("orders"), why="exact name"),
    Query("dim_customers", _m("customers"), why="exact name"),
    Query("fct_journal_entries", _m("journal_entries"), why="exact name"),
    Query("dim_fx_rates", _m("fx_rates"), why="exact name"),
    Query("fct orders", _m("orders"), why="name as words"),
    Query("FctOrderItems", _m("order_items"), why="camelCase"),
    Query("stg_shopify__orders", f"{WAREHOUSE}.analytics.staging.stg_shopify__orders"),
    Query("agg_ad_spend_monthly", f"{WAREHOUSE}.analytics.marketing.agg_ad_spend_monthly"),
    Query("churn_predictor", "mlflow.churn_predictor", "ml_model"),
    Query("fct_payroll", _m("payroll")),
    # business phrases
    Query("order fact table", _m("orders"), why="phrase"),
    Query("monthly recurring revenue", "Business.Monthly_Recurring_Revenue", "glossary_term",
          why="the term's exact name"),
    Query("monthly recurring revenue", _m("subscriptions_revenue"), filters={"kind": ["table"]}),
    Query("foreign exchange rates", _m("fx_rates")),
    Query("employee directory", _m("employees")),
    Query("abandoned carts", _m("carts")),
    Query("customer support tickets", _m("tickets")),
    Query("plan versus actual budget", _m("budgets")),
    Query("stock on hand per warehouse", _m("inventory_levels")),
    Query("a/b tests conversion", _m("experiments")),
    Query("net promoter score survey", _m("nps_responses")),
    Query("accounts receivable invoices", _m("invoices")),
    Query("accounts payable supplier bills", _m("vendor_bills")),
    Query("b2b sales pipeline deals", _m("opportunities")),
    Query("advertising spend per campaign", _m("ad_spend")),
    Query("hiring pipeline open positions", _m("job_requisitions")),
    Query("weekly demand forecast", _m("demand_forecast")),
    Query("feature flag rollout", _m("feature_flags")),
    Query("vacation sick leave", _m("time_off")),
    Query("parcels handed to carriers tracking", _m("shipments")),
    Query("vat sales tax rates", _m("tax_rates")),
    Query("general ledger debits credits", _m("journal_entries")),
    Query("customer satisfaction ratings", _m("csat_ratings")),
    Query("postal addresses geocoded", _m("customer_addresses")),
    Query("refunds for returned goods", _m("refunds")),
    Query("card payments stripe", _m("payments")),
    Query("headcount attrition per department", _m("headcount")),
    Query("marketing qualified leads score", _m("leads")),
    Query("website sessions utm attribution", _m("web_sessions")),
    Query("purchase orders suppliers delivery", _m("purchase_orders")),
    Query("product analytics events", _m("user_events")),
    # column names (a table is found by its columns)
    Query("churn_probability", _m("app_subscriptions"), why="column"),
    Query("churn probability", _m("app_subscriptions"), why="column as words"),
    Query("win_probability", _m("opportunities"), why="column"),
    Query("gross margin", _m("orders"), filters={"kind": ["table"]}, why="column"),
    Query("days_of_supply", _m("inventory_levels"), why="column"),
    Query("cost per click", _m("ad_spend"), why="column"),
    Query("roas", _m("ad_spend"), why="column"),
    Query("net_revenue_retention", _m("subscriptions_revenue"), why="column"),
    Query("time_to_fill_days", _m("job_requisitions"), why="column"),
    Query("first response minutes", _m("tickets"), why="column"),
    Query("lifetime_value", _m("customers"), why="column"),
    Query("conversion lift p value", _m("experiments"), why="column"),
    Query("days past due", _m("invoices"), why="column"),
    Query("employer taxes", _m("payroll"), why="column"),
    Query("tracking_number", _m("shipments"), why="column"),
    # typos
    Query("custmer adresses", _m("customer_addresses"), why="typo"),
    Query("jounral entries", _m("journal_entries"), why="typo"),
    Query("invetory levels", _m("inventory_levels"), why="typo"),
    Query("emplyees", _m("employees"), why="typo"),
    Query("subscriptons revenue", _m("subscriptions_revenue"), why="typo"),
    Query("oportunities", _m("opportunities"), why="typo"),
    Query("expriments", _m("experiments"), why="typo"),
    Query("purchse orders", _m("purchase_orders"), why="typo"),
    Query("refnds", _m("refunds"), why="typo"),
    Query("advertsing spend", _m("ad_spend"), why="typo"),
    # partial words, as you type
    Query("fct_ord", _m("orders"), why="prefix"),
    Query("dim_cust", _m("customers"), why="prefix"),
    Query("journal entr", _m("journal_entries"), why="prefix"),
    Query("inventory lev", _m("inventory_levels"), why="prefix"),
    Query("vendor bi", _m("vendor_bills"), why="prefix"),
    # FQN fragments
    Query("analytics.sales.fct_orders", _m("orders"), why="fqn"),
    Query("finance.fct_inv", _m("invoices"), why="fqn prefix"),
    Query("sales.dim_customer_addresses", _m("customer_addresses"), why="fqn"),
    Query("raw.shopify.orders", f"{WAREHOUSE}.raw.shopify.orders", why="fqn"),
    Query("warehouse.raw.netsuite.suppliers", f"{WAREHOUSE}.raw.netsuite.suppliers", why="fqn"),
    Query("people.fct_time", _m("time_off"), why="fqn prefix"),
    Query("staging.stg_stripe__payments", f"{WAREHOUSE}.analytics.staging.stg_stripe__payments"),
    # other kinds, and filtered queries
    Query("orders overview", "looker.orders_overview", "dashboard", {"kind": ["dashboard"]}),
    Query("payroll", "looker.payroll_overview", "dashboard", {"kind": ["dashboard"]}),
    Query("load shopify orders", "airflow.load_shopify_orders", "pipeline",
          {"kind": ["pipeline"]}),
    Query("orders changes", 'kafka."shopify.orders.changes"', "topic", {"kind": ["topic"]}),
    Query("churn", "mlflow.churn_predictor", "ml_model", {"kind": ["ml_model"]}),
    Query("demand forecast model", "mlflow.demand_forecaster", "ml_model",
          {"kind": ["ml_model"]}),
    Query("recurring revenue", "Business.Monthly_Recurring_Revenue", "glossary_term",
          {"kind": ["glossary_term"]}),
    Query("email", _m("customers"), filters={"tag": ["PII.Sensitive"], "domain": ["Sales"]}),
    Query("revenue", _m("subscriptions_revenue"), filters={"domain": ["Finance"]}),
    Query("tickets", _m("tickets"), filters={"owner": ["cx_analytics"]}),
    Query("orders", _m("orders"), filters={"schema": ["warehouse.analytics.sales"]}),
    Query("customers", f"{WAREHOUSE}.raw.shopify.customers",
          filters={"database": ["warehouse.raw"]}),
    Query("budget", _m("budgets"), filters={"tag": ["Tier.Tier1"]}),
    Query("net pay", _m("payroll"), filters={"tag": ["PII.Sensitive"]}),
    Query("mrr", _m("subscriptions_revenue"),
          filters={"glossary_term": ["Business.Monthly_Recurring_Revenue"]}),
)  # fmt: skip
