"""A realistic demo catalog: the data stack of Larkspur Home, an online home-goods retailer.

`sample_assets()` returns (kind, body) pairs in dependency order: every asset a body names
(parent, owner, tag, glossary term, domain, data source) comes before it.
"""

from __future__ import annotations

from typing import Any

from lodestar.demo.sample_marts import mart_tables
from lodestar.demo.sample_tables import (
    DATABASE,
    GLOSSARY,
    SCHEMAS,
    SERVICE,
    TERM_PARENTS,
    source_tables,
    table_fqn,
    term,
)
from lodestar.model import fqn

Body = dict[str, Any]
Asset = tuple[str, Body]

COMPANY_DOMAIN = "larkspurhome.com"
REPO = "https://github.com/larkspur-home/data-platform"

# name, display name, title, team
_USERS = [
    ("maya_chen", "Maya Chen", "Head of Data Platform", "data-platform"),
    ("tom_becker", "Tom Becker", "Senior Data Engineer", "data-platform"),
    ("aisha_khan", "Aisha Khan", "Data Engineer", "data-platform"),
    ("priya_raman", "Priya Raman", "Analytics Lead", "analytics"),
    ("daniel_okafor", "Daniel Okafor", "Senior Analytics Engineer", "analytics"),
    ("noah_kim", "Noah Kim", "Data Scientist", "growth"),
    ("lucas_moreau", "Lucas Moreau", "FP&A Manager", "finance"),
    ("sofia_alvarez", "Sofia Alvarez", "Growth Marketing Lead", "growth"),
]
_TEAMS = {
    "data-platform": "Runs the warehouse, ingestion and orchestration.",
    "analytics": "Owns the dbt models, metrics and BI.",
    "finance": "FP&A: revenue reporting and the monthly close.",
    "growth": "Acquisition, retention and lifecycle marketing.",
}


def user(name: str) -> Body:
    return {"kind": "user", "fqn": name}


def team(name: str) -> Body:
    return {"kind": "team", "fqn": name}


def ref(kind: str, name: str) -> Body:
    """A reference to an asset; table names are `schema.table` refs."""
    return {"kind": kind, "fqn": table_fqn(name) if kind == "table" else name}


def asset(kind: str, name: str, description: str, **fields: Any) -> Asset:
    return (kind, {"name": name, "description": description, **fields})


def _people() -> list[Asset]:
    out: list[Asset] = []
    for name, display, title, _ in _USERS:
        body: Body = {
            "name": name,
            "display_name": display,
            "email": f"{name.replace('_', '.')}@{COMPANY_DOMAIN}",
            "title": title,
            "timezone": "America/Los_Angeles",
        }
        out.append(("user", body))
    for name, description in _TEAMS.items():
        members = [u[0] for u in _USERS if u[3] == name]
        body = {
            "name": name,
            "display_name": name.replace("-", " ").title(),
            "description": description,
            "team_type": "group",
            "email": f"{name}@{COMPANY_DOMAIN}",
            "members": members,
        }
        out.append(("team", body))
    return out


_TAGS = {
    "PII": (
        "Personal data, as defined by GDPR and CCPA.",
        {
            "Sensitive": "Identifies a person: e-mail, phone, name, street address, IP.",
            "NonSensitive": "Personal but coarse: country, city.",
        },
    ),
    "Tier": (
        "How much the business depends on an asset.",
        {
            "Tier1": "**Critical**: board and finance reporting; incidents page on-call.",
            "Tier2": "**Important**: used by several teams daily.",
            "Tier3": "**Supporting**: landing and intermediate data.",
        },
    ),
}

_CADENCES = ["hourly", "daily", "weekly"]

_TERM_DOCS = {
    "Customer": "A person with a storefront account; guests are not customers.",
    "Order": "A completed checkout, whatever happens to it later.",
    "Refund": "Money returned to a customer against a payment.",
    "Revenue": "Money earned from orders; see the nested terms.",
    "Net Revenue": "Gross merchandise value minus discounts and refunds, before tax and "
    "shipping. **The** revenue figure reported to the board.",
    "Average Order Value": "Net revenue / orders.",
    "Churn": "A customer is churned when 180 days pass without an order.",
    "Lifetime Value": "Net revenue from a customer over their whole relationship.",
    "Conversion Rate": "Sessions with an order / all sessions.",
}
# term: synonyms, related terms, reviewer
_TERM_META: dict[str, tuple[list[str], list[str], str]] = {
    "Customer": ([], [], "priya_raman"),
    "Order": (["Purchase"], [], "priya_raman"),
    "Refund": (["Return"], [], "lucas_moreau"),
    "Revenue": (["Sales"], [], "lucas_moreau"),
    "Net Revenue": (["Net Sales"], ["Refund"], "lucas_moreau"),
    "Average Order Value": (["AOV"], ["Net Revenue"], "daniel_okafor"),
    "Churn": (["Attrition"], ["Customer"], "noah_kim"),
    "Lifetime Value": (["LTV", "CLV"], ["Customer", "Churn", "Net Revenue"], "noah_kim"),
    "Conversion Rate": (["CVR"], [], "sofia_alvarez"),
}
# domain: description, owning team, experts
_DOMAINS = {
    "Sales": ("Orders, payments and revenue.", "finance", ["lucas_moreau", "daniel_okafor"]),
    "Marketing": ("Customers, sessions, campaigns.", "growth", ["sofia_alvarez", "priya_raman"]),
}
# kind, name, type, description
_PROPS = [
    ("table", "retention_days", "integer", "Days rows are kept before deletion."),
    ("table", "pii_reviewed", "boolean", "Privacy has reviewed the PII tagging."),
    ("table", "refresh_cadence", "enum", "How often the data is refreshed."),
    ("pipeline", "sla_hours", "integer", "Hours after schedule by which it must succeed."),
]


def _governance() -> list[Asset]:
    out: list[Asset] = []
    owners = [team("data-platform")]
    for name, (doc, tags) in _TAGS.items():
        out.append(asset("classification", name, doc, mutually_exclusive=True, owners=owners))
        for tag, tag_doc in tags.items():
            out.append(asset("tag", tag, tag_doc, classification=name))
    doc = "Definitions every Larkspur dashboard and model agrees on."
    out.append(asset("glossary", GLOSSARY, doc, owners=[team("analytics")]))
    for name, description in _TERM_DOCS.items():
        synonyms, related, reviewer = _TERM_META[name]
        body: Body = {
            "name": name,
            "glossary": GLOSSARY,
            "description": description,
            "synonyms": synonyms,
            "related_terms": [term(t) for t in related],
            "reviewers": [user(reviewer)],
            "owners": [team("analytics")],
        }
        if name in TERM_PARENTS:
            body["parent"] = term(TERM_PARENTS[name])
        out.append(("glossary_term", body))
    for name, (doc, owner, experts) in _DOMAINS.items():
        refs = {"owners": [team(owner)], "experts": [user(e) for e in experts]}
        out.append(asset("domain", name, doc, domain_type="consumer_aligned", **refs))
    for kind, name, ptype, doc in _PROPS:
        extra = {"enum_values": _CADENCES} if ptype == "enum" else {}
        prop = asset("custom_property", name, doc, entity_kind=kind, property_type=ptype, **extra)
        out.append(prop)
    return out


def _service(name: str, category: str, service_type: str, description: str, **conn: Any) -> Asset:
    body: Body = {
        "name": name,
        "category": category,
        "service_type": service_type,
        "description": description,
        "owners": [team("data-platform")],
        "connection": conn,
    }
    return ("service", body)


def _services() -> list[Asset]:
    host = f"internal.{COMPANY_DOMAIN}"
    return [
        _service(
            SERVICE,
            "database",
            "postgres",
            "The analytics warehouse: PostgreSQL 16 on RDS, fed by Airflow and modelled by dbt.",
            host=f"warehouse.{host}",
            port=5432,
            database=DATABASE,
            username="lodestar_reader",
            password="${WAREHOUSE_PASSWORD}",
            sslmode="require",
        ),
        _service(
            "airflow",
            "pipeline",
            "airflow",
            "Apache Airflow 2.9: ingestion and the nightly dbt build.",
            host_port=f"https://airflow.{host}",
            api_token="${AIRFLOW_API_TOKEN}",
        ),
        _service(
            "looker",
            "dashboard",
            "looker",
            "Looker, the company BI tool.",
            base_url="https://larkspur.cloud.looker.com",
            client_id="lodestar",
            client_secret="${LOOKER_CLIENT_SECRET}",
        ),
        _service(
            "kafka",
            "messaging",
            "kafka",
            "Confluent Cloud cluster for storefront events.",
            bootstrap_servers="pkc-4r087.us-west-2.aws.confluent.cloud:9092",
            security_protocol="SASL_SSL",
            sasl_username="lodestar",
            sasl_password="${KAFKA_SASL_PASSWORD}",
            schema_registry_url="https://psrc-8kz20.us-west-2.aws.confluent.cloud",
        ),
        _service(
            "mlflow",
            "ml_model",
            "mlflow",
            "MLflow tracking server and model registry.",
            tracking_uri=f"https://mlflow.{host}",
            token="${MLFLOW_TRACKING_TOKEN}",
        ),
    ]


_SCHEMA_DOCS = {
    "raw": ("Source data as landed by the loaders; not for analysis.", "data-platform"),
    "staging": ("dbt staging views: one per raw table, renamed and cast.", "analytics"),
    "marts": ("dbt marts: facts and dimensions for BI, finance and data science.", "analytics"),
}


def _warehouse() -> list[Asset]:
    doc = "The analytics database: raw, staging and marts layers."
    out = [asset("database", DATABASE, doc, service=SERVICE, owners=[team("data-platform")])]
    for schema in SCHEMAS:
        doc, owner = _SCHEMA_DOCS[schema]
        database = fqn.join([SERVICE, DATABASE])
        out.append(asset("schema", schema, doc, database=database, owners=[team(owner)]))
    return out + [("table", body) for body in source_tables() + mart_tables()]


_OPERATORS = {
    "py": "PythonOperator",
    "pg": "PostgresOperator",
    "sh": "BashOperator",
    "check": "SQLCheckOperator",
    "slack": "SlackWebhookOperator",
}


def _task(name: str, op: str, description: str, *downstream: str) -> Body:
    return {
        "name": name,
        "task_type": _OPERATORS[op],
        "description": description,
        "downstream": list(downstream),
    }


def _pipeline(name: str, schedule: str, description: str, owner: str, tasks: list[Body]) -> Asset:
    return (
        "pipeline",
        {
            "name": name,
            "service": "airflow",
            "description": description,
            "schedule": schedule,
            "owners": [team(owner)],
            "tags": ["Tier.Tier1" if name == "dbt_nightly" else "Tier.Tier2"],
            "tasks": tasks,
            "source_url": f"https://airflow.internal.{COMPANY_DOMAIN}/dags/{name}/grid",
            "source_code": {
                "repository": REPO,
                "path": f"dags/{name}.py",
                "revision": "main",
                "language": "python",
            },
            "custom_properties": {"sla_hours": 2 if schedule.startswith("15") else 6},
        },
    )


def _pipelines() -> list[Asset]:
    return [
        _pipeline(
            "shopify_ingest",
            "15 * * * *",
            "Hourly incremental export of Shopify orders, customers, products and "
            "fulfilments into `raw`.",
            "data-platform",
            [
                _task("extract_orders", "py", "Orders updated since the last run.", "load_raw"),
                _task("extract_customers", "py", "Customers and addresses.", "load_raw"),
                _task("extract_products", "py", "Products and categories.", "load_raw"),
                _task("extract_fulfilments", "py", "ShipBob fulfilments.", "load_raw"),
                _task("load_raw", "pg", "COPY into `raw`, merge on id.", "check_freshness"),
                _task("check_freshness", "check", "Fail if `raw.orders` is over 2h old."),
            ],
        ),
        _pipeline(
            "stripe_sync",
            "0 */2 * * *",
            "Payments and refunds from the Stripe API into `raw.payments` and `raw.refunds`.",
            "finance",
            [
                _task("extract_payments", "py", "PaymentIntents by `created`.", "load"),
                _task("extract_refunds", "py", "Refunds by `created`.", "load"),
                _task("load", "pg", "Upsert into `raw`."),
            ],
        ),
        _pipeline(
            "dbt_nightly",
            "0 3 * * *",
            "The nightly dbt build: staging views, marts, tests, then the churn scoring.\n\n"
            "Failures page the **data-platform** on-call.",
            "analytics",
            [
                _task("dbt_deps", "sh", "`dbt deps`.", "dbt_run_staging"),
                _task("dbt_run_staging", "sh", "`dbt run -s staging`.", "dbt_run_marts"),
                _task("dbt_run_marts", "sh", "`dbt run -s marts`.", "dbt_test"),
                _task(
                    "dbt_test",
                    "sh",
                    "`dbt test`; a failed test stops the refresh.",
                    "refresh_daily_revenue",
                    "score_churn_model",
                ),
                _task("refresh_daily_revenue", "pg", "REFRESH MATERIALIZED VIEW.", "notify"),
                _task("score_churn_model", "py", "Score `churn_predictor`.", "notify"),
                _task("notify", "slack", "Post the run summary to #data-alerts."),
            ],
        ),
    ]


def _chart(name: str, display_name: str, chart_type: str, description: str) -> Body:
    return {
        "name": name,
        "display_name": display_name,
        "chart_type": chart_type,
        "description": description,
    }


def _dashboards() -> list[Asset]:
    base = "https://larkspur.cloud.looker.com/dashboards"
    revenue = {
        "name": "executive_revenue",
        "display_name": "Executive Revenue",
        "service": "looker",
        "description": "Daily and month-to-date revenue for the leadership team.",
        "owners": [team("finance"), user("lucas_moreau")],
        "tags": ["Tier.Tier1"],
        "glossary_terms": [term("Net Revenue"), term("Average Order Value")],
        "domain": "Sales",
        "source_url": f"{base}/12",
        "charts": [
            _chart("net_revenue_daily", "Net revenue by day", "line", "Last 90 days vs last year."),
            _chart("mtd_revenue", "Month to date", "single_value", "Net revenue, MTD."),
            _chart("aov_trend", "Average order value", "line", "Weekly AOV."),
            _chart("refund_rate", "Refund rate", "bar", "Refunds / gross revenue by week."),
        ],
        "data_sources": [
            ref("table", "marts.daily_revenue"),
            ref("table", "marts.fct_orders"),
            ref("table", "marts.fct_payments"),
        ],
    }
    retention = {
        "name": "customer_retention",
        "display_name": "Customer Retention",
        "service": "looker",
        "description": "Cohort retention, churn risk and lifetime value by segment.",
        "owners": [team("growth"), user("sofia_alvarez")],
        "tags": ["Tier.Tier2"],
        "glossary_terms": [term("Churn"), term("Lifetime Value")],
        "domain": "Marketing",
        "source_url": f"{base}/31",
        "charts": [
            _chart("cohort_retention", "Monthly cohorts", "heatmap", "Share ordering again."),
            _chart("churn_risk", "Churn risk", "histogram", "Customers by churn probability."),
            _chart("ltv_by_segment", "LTV by segment", "bar", "Predicted 12-month value."),
        ],
        "data_sources": [
            ref("table", "marts.dim_customers"),
            ref("table", "marts.customer_lifetime_value"),
            ref("table", "marts.fct_sessions"),
        ],
    }
    return [("dashboard", revenue), ("dashboard", retention)]


_ORDER_EVENT_SCHEMA = """{
  "type": "record", "name": "OrderEvent", "namespace": "com.larkspurhome.orders",
  "fields": [
    {"name": "order_id", "type": "long"},
    {"name": "event_type", "type": {"type": "enum", "name": "Kind",
      "symbols": ["PLACED", "PAID", "SHIPPED", "DELIVERED", "CANCELLED"]}},
    {"name": "total", "type": {"type": "bytes", "logicalType": "decimal",
      "precision": 12, "scale": 2}},
    {"name": "occurred_at", "type": {"type": "long", "logicalType": "timestamp-millis"}}
  ]
}"""


def _streams() -> list[Asset]:
    day_ms = 24 * 3600 * 1000
    return [
        (
            "topic",
            {
                "name": "order_events",
                "service": "kafka",
                "description": "Order lifecycle events published by the storefront backend.",
                "owners": [team("data-platform")],
                "tags": ["Tier.Tier1"],
                "glossary_terms": [term("Order")],
                "partitions": 12,
                "replication_factor": 3,
                "retention_ms": 7 * day_ms,
                "schema_type": "avro",
                "schema_text": _ORDER_EVENT_SCHEMA,
            },
        ),
        (
            "topic",
            {
                "name": "clickstream",
                "service": "kafka",
                "description": "Segment web events; sunk into `raw.web_events` every minute.",
                "owners": [team("growth")],
                "tags": ["Tier.Tier3", "PII.Sensitive"],
                "partitions": 24,
                "replication_factor": 3,
                "retention_ms": 3 * day_ms,
                "schema_type": "json",
            },
        ),
        (
            "ml_model",
            {
                "name": "churn_predictor",
                "display_name": "Churn predictor",
                "service": "mlflow",
                "description": "Probability that a customer places no order in the next 180 days."
                "\n\nRetrained monthly; scores land in `marts.customer_lifetime_value`.",
                "owners": [team("growth"), user("noah_kim")],
                "glossary_terms": [term("Churn")],
                "domain": "Marketing",
                "algorithm": "LightGBM gradient-boosted trees",
                "target": "churned_180d",
                "features": [
                    {"name": n, "data_type": t, "description": d}
                    for n, t, d in [
                        ("days_since_last_order", "integer", "Recency."),
                        ("orders_count", "integer", "Frequency."),
                        ("avg_order_value", "numeric", "Monetary value per order."),
                        ("refund_rate", "numeric", "Refunded / gross revenue."),
                        ("sessions_30d", "integer", "Web sessions in the last 30 days."),
                        ("accepts_marketing", "boolean", "E-mail opt-in."),
                    ]
                ],
                "source_code": {"repository": REPO, "path": "ml/churn/train.py"},
            },
        ),
    ]


_TOP_CUSTOMERS = """SELECT c.customer_id, c.customer_segment, v.total_net_revenue,
       v.predicted_12m_value, v.churn_probability
FROM marts.customer_lifetime_value v
JOIN marts.dim_customers c USING (customer_id)
ORDER BY v.predicted_12m_value DESC
LIMIT 100"""

_REFUND_RATE = """SELECT date_trunc('week', o.order_date) AS week,
       sum(o.refund_total) / nullif(sum(o.gross_revenue), 0) AS refund_rate
FROM marts.fct_orders o
GROUP BY 1
ORDER BY 1"""


def _queries() -> list[Asset]:
    return [
        (
            "query",
            {
                "name": "top_customers_by_ltv",
                "service": SERVICE,
                "description": "The 100 customers with the highest predicted value.",
                "owners": [user("sofia_alvarez")],
                "sql": _TOP_CUSTOMERS,
                "dialect": "postgres",
                "used_in": [
                    ref("table", "marts.customer_lifetime_value"),
                    ref("table", "marts.dim_customers"),
                ],
            },
        ),
        (
            "query",
            {
                "name": "weekly_refund_rate",
                "service": SERVICE,
                "description": "Refund rate by order week, as in the finance pack.",
                "owners": [user("lucas_moreau")],
                "sql": _REFUND_RATE,
                "dialect": "postgres",
                "used_in": [ref("table", "marts.fct_orders")],
            },
        ),
    ]


def _products() -> list[Asset]:
    return [
        (
            "data_product",
            {
                "name": "revenue_reporting",
                "display_name": "Revenue Reporting",
                "domain": "Sales",
                "description": "Certified revenue facts for finance. Numbers match the close "
                "within 0.5% by the 3rd business day.",
                "owners": [team("finance")],
                "assets": [
                    ref("table", "marts.fct_orders"),
                    ref("table", "marts.fct_payments"),
                    ref("table", "marts.daily_revenue"),
                    ref("dashboard", fqn.join(["looker", "executive_revenue"])),
                ],
            },
        ),
        (
            "data_product",
            {
                "name": "customer_360",
                "display_name": "Customer 360",
                "domain": "Marketing",
                "description": "Everything known about a customer: profile, value, churn risk.",
                "owners": [team("growth")],
                "assets": [
                    ref("table", "marts.dim_customers"),
                    ref("table", "marts.customer_lifetime_value"),
                    ref("table", "marts.fct_sessions"),
                    ref("ml_model", fqn.join(["mlflow", "churn_predictor"])),
                    ref("dashboard", fqn.join(["looker", "customer_retention"])),
                ],
            },
        ),
    ]


def sample_assets() -> list[tuple[str, dict[str, Any]]]:
    """The demo catalog as (kind, body) pairs, referenced assets before referencing ones."""
    return (
        _people()
        + _governance()
        + _services()
        + _warehouse()
        + _pipelines()
        + _dashboards()
        + _streams()
        + _queries()
        + _products()
    )
