"""Tables of the demo warehouse `warehouse.analytics`: raw landing tables, staging views, marts."""

from __future__ import annotations

import copy
from typing import Any

from lodestar.model import fqn

Body = dict[str, Any]

SERVICE = "warehouse"
DATABASE = "analytics"
SCHEMAS = ("raw", "staging", "marts")

PII = "PII.Sensitive"
PII_NS = "PII.NonSensitive"
_FLAG_TAGS = {"pii": PII, "pii-ns": PII_NS}


def schema_fqn(schema: str) -> str:
    return fqn.join([SERVICE, DATABASE, schema])


def table_fqn(ref: str) -> str:
    """`marts.fct_orders` -> `warehouse.analytics.marts.fct_orders`."""
    schema, name = ref.split(".")
    return fqn.join([SERVICE, DATABASE, schema, name])


GLOSSARY = "Business"
# Terms nested under another term of the glossary: child -> parent.
TERM_PARENTS = {"Net Revenue": "Revenue"}


def term(name: str) -> str:
    """FQN of a term of the `Business` glossary, nested terms included."""
    path = [name]
    while path[0] in TERM_PARENTS:
        path.insert(0, TERM_PARENTS[path[0]])
    return fqn.join([GLOSSARY, *path])


def col(name: str, data_type: str, description: str, flags: str = "", *terms: str) -> Body:
    """One column; flags: `pk`, `nn` (not null), `uniq`, `pii`, `pii-ns`."""
    f = flags.split()
    body: Body = {
        "name": name,
        "data_type": data_type,
        "nullable": not ({"pk", "nn"} & set(f)),
        "description": description,
    }
    if "uniq" in f:
        body["constraint"] = "unique"
    tags = [_FLAG_TAGS[x] for x in f if x in _FLAG_TAGS]
    if tags:
        body["tags"] = tags
    if terms:
        body["glossary_terms"] = [term(t) for t in terms]
    return body


def pick(source: list[Body], *names: str, **renames: str) -> list[Body]:
    """Columns of a view copied from its source: `names` as is, `renames` as new=old."""
    by_name = {c["name"]: c for c in source}
    out: list[Body] = []
    for new, old in [(n, n) for n in names] + list(renames.items()):
        c = copy.deepcopy(by_name[old])
        c["name"] = new
        c.pop("constraint", None)
        out.append(c)
    return out


def table(
    ref: str,
    description: str,
    columns: list[Body],
    *,
    team: str,
    steward: str | None = None,
    tier: int = 2,
    pk: tuple[str, ...] = (),
    fks: tuple[tuple[str, str, str], ...] = (),
    table_type: str = "table",
    view_sql: str | None = None,
    terms: tuple[str, ...] = (),
    props: Body | None = None,
    sample: tuple[list[str], list[list[Any]]] | None = None,
    domain: str | None = None,
) -> Body:
    """A table body; `fks` are (column, referred table ref, referred column)."""
    schema, name = ref.split(".")
    cols = copy.deepcopy(columns)
    for c in cols:
        if c["name"] in pk:
            c["nullable"] = False
            if len(pk) == 1:
                c["constraint"] = "primary_key"
    constraints: list[Body] = []
    if pk:
        constraints.append({"type": "primary_key", "columns": list(pk)})
    for column, referred, referred_column in fks:
        constraints.append(
            {
                "type": "foreign_key",
                "columns": [column],
                "referred_table": table_fqn(referred),
                "referred_columns": [referred_column],
            }
        )
    owners = [{"kind": "team", "fqn": team}]
    if steward:
        owners.append({"kind": "user", "fqn": steward})
    body: Body = {
        "name": name,
        "schema": schema_fqn(schema),
        "table_type": table_type,
        "description": description,
        "owners": owners,
        "tags": [f"Tier.Tier{tier}"],
        "columns": cols,
    }
    if constraints:
        body["constraints"] = constraints
    if view_sql:
        body["view_sql"] = view_sql
    if terms:
        body["glossary_terms"] = [term(t) for t in terms]
    if props:
        body["custom_properties"] = props
    if sample:
        body["sample_data"] = {"columns": sample[0], "rows": sample[1]}
    if domain:
        body["domain"] = domain
    return body


TS_CREATED = ("created_at", "timestamptz", "When the row was created in the source system.", "nn")
TS_UPDATED = ("updated_at", "timestamptz", "Last modification in the source system.", "nn")
LOADED = ("_loaded_at", "timestamptz", "When the loader wrote the row (UTC).", "nn")


def _raw() -> dict[str, list[Body]]:
    return {
        "customers": [
            col("customer_id", "bigint", "Shopify customer id."),
            col("email", "varchar(320)", "Login e-mail address, as typed.", "nn pii"),
            col("first_name", "varchar(100)", "Given name.", "pii"),
            col("last_name", "varchar(100)", "Family name.", "pii"),
            col("phone", "varchar(32)", "Phone number in E.164 format.", "pii"),
            col("accepts_marketing", "boolean", "Opted in to marketing e-mail.", "nn"),
            col("country_code", "char(2)", "ISO 3166-1 country of the default address.", "pii-ns"),
            col(*TS_CREATED),
            col(*TS_UPDATED),
        ],
        "customer_addresses": [
            col("address_id", "bigint", "Shopify address id."),
            col("customer_id", "bigint", "Customer owning the address.", "nn"),
            col("address_line1", "varchar(255)", "Street and number.", "pii"),
            col("address_line2", "varchar(255)", "Apartment, suite, floor.", "pii"),
            col("city", "varchar(120)", "City or town.", "pii-ns"),
            col("region", "varchar(120)", "State, province or county.", "pii-ns"),
            col("postal_code", "varchar(20)", "Postal or ZIP code.", "pii"),
            col("country_code", "char(2)", "ISO 3166-1 alpha-2 country.", "nn"),
            col("is_default", "boolean", "The customer's default shipping address.", "nn"),
        ],
        "promotions": [
            col("promotion_code", "varchar(40)", "Code the customer enters."),
            col("description", "text", "What the promotion offers."),
            col("discount_type", "varchar(10)", "percent or fixed.", "nn"),
            col("discount_value", "numeric(10,2)", "Percent off or USD off.", "nn"),
            col("channel", "varchar(40)", "email, paid_social, influencer, ..."),
            col("starts_at", "timestamptz", "First moment the code is valid.", "nn"),
            col("ends_at", "timestamptz", "Expiry; null for evergreen codes."),
        ],
        "product_categories": [
            col("category_id", "integer", "Category id."),
            col("parent_category_id", "integer", "Enclosing category; null at the top level."),
            col("name", "varchar(120)", "Display name, e.g. *Bedding*.", "nn"),
            col("slug", "varchar(120)", "URL slug on the storefront.", "nn uniq"),
        ],
        "suppliers": [
            col("supplier_id", "integer", "Supplier id from the ERP."),
            col("name", "varchar(200)", "Legal name of the supplier.", "nn"),
            col("contact_email", "varchar(320)", "Account manager e-mail.", "pii"),
            col("contact_phone", "varchar(32)", "Account manager phone.", "pii"),
            col("country_code", "char(2)", "Country the goods ship from.", "nn"),
            col("lead_time_days", "smallint", "Usual days from purchase order to receipt."),
            col("is_active", "boolean", "Still supplying products.", "nn"),
        ],
        "products": [
            col("product_id", "bigint", "Shopify product variant id."),
            col("sku", "varchar(64)", "Stock keeping unit.", "nn uniq"),
            col("name", "varchar(255)", "Product title on the storefront.", "nn"),
            col("category_id", "integer", "Category of the product."),
            col("supplier_id", "integer", "Supplier the product is bought from."),
            col("list_price", "numeric(10,2)", "Current price before discounts, in USD.", "nn"),
            col("unit_cost", "numeric(10,2)", "Landed cost per unit, in USD."),
            col("weight_grams", "integer", "Shipping weight."),
            col("is_active", "boolean", "Listed on the storefront.", "nn"),
            col(*TS_CREATED),
        ],
        "orders": [
            col("order_id", "bigint", "Shopify order id.", "", "Order"),
            col(
                "order_number", "varchar(32)", "Number shown to the customer, `#LH1042`.", "nn uniq"
            ),
            col("customer_id", "bigint", "Buyer; null for guest checkouts.", "", "Customer"),
            col("status", "varchar(20)", "pending, paid, shipped, delivered, cancelled.", "nn"),
            col("currency", "char(3)", "ISO 4217 currency of the amounts.", "nn"),
            col("subtotal", "numeric(12,2)", "Sum of line prices before discounts.", "nn"),
            col("discount_total", "numeric(12,2)", "Order and line discounts.", "nn"),
            col("shipping_total", "numeric(12,2)", "Shipping charged to the customer.", "nn"),
            col("tax_total", "numeric(12,2)", "Sales tax charged.", "nn"),
            col(
                "total",
                "numeric(12,2)",
                "Amount charged: subtotal - discounts + shipping + tax.",
                "nn",
            ),
            col("promotion_code", "varchar(40)", "Discount code entered at checkout."),
            col("shipping_address_id", "bigint", "Address the order ships to."),
            col("placed_at", "timestamptz", "When the checkout completed.", "nn"),
            col(*TS_UPDATED),
            col(*LOADED),
        ],
        "order_items": [
            col("order_item_id", "bigint", "Shopify line item id."),
            col("order_id", "bigint", "Order of the line.", "nn"),
            col("product_id", "bigint", "Product variant bought.", "nn"),
            col("quantity", "integer", "Units bought.", "nn"),
            col("unit_price", "numeric(10,2)", "Price per unit at the time of sale.", "nn"),
            col("discount", "numeric(10,2)", "Discount allocated to the line.", "nn", "Revenue"),
            col(*LOADED),
        ],
        "payments": [
            col("payment_id", "varchar(64)", "Stripe PaymentIntent id, `pi_...`."),
            col("order_id", "bigint", "Order paid for.", "nn"),
            col("method", "varchar(20)", "card, paypal, klarna or gift_card.", "nn"),
            col("status", "varchar(20)", "succeeded, failed or pending.", "nn"),
            col("amount", "numeric(12,2)", "Amount captured.", "nn"),
            col("currency", "char(3)", "ISO 4217 currency.", "nn"),
            col("card_last4", "char(4)", "Last four digits of the card.", "pii"),
            col("processor_fee", "numeric(10,2)", "Fee Stripe kept."),
            col(*TS_CREATED),
        ],
        "refunds": [
            col("refund_id", "varchar(64)", "Stripe refund id, `re_...`.", "", "Refund"),
            col("payment_id", "varchar(64)", "Payment refunded.", "nn"),
            col("order_id", "bigint", "Order refunded.", "nn"),
            col("amount", "numeric(12,2)", "Amount returned to the customer.", "nn"),
            col("reason", "varchar(40)", "damaged, wrong_item, not_as_described, other."),
            col(*TS_CREATED),
        ],
        "shipments": [
            col("shipment_id", "bigint", "Fulfilment id from ShipBob."),
            col("order_id", "bigint", "Order shipped.", "nn"),
            col("carrier", "varchar(40)", "UPS, USPS, FedEx or DHL.", "nn"),
            col("tracking_number", "varchar(64)", "Carrier tracking number.", "uniq"),
            col("status", "varchar(20)", "label_created, in_transit, delivered, returned.", "nn"),
            col("shipping_cost", "numeric(10,2)", "What the carrier charged us."),
            col("shipped_at", "timestamptz", "Handed over to the carrier."),
            col("delivered_at", "timestamptz", "Delivery scan."),
        ],
        "inventory": [
            col("snapshot_date", "date", "Day of the nightly stock count."),
            col("product_id", "bigint", "Product counted."),
            col("warehouse_code", "varchar(10)", "Fulfilment centre, e.g. `RNO1`."),
            col("on_hand", "integer", "Units on the shelf.", "nn"),
            col("reserved", "integer", "Units held for open orders.", "nn"),
            col("reorder_point", "integer", "Stock level that triggers a purchase order."),
        ],
        "web_events": [
            col("event_id", "uuid", "Segment message id."),
            col("anonymous_id", "varchar(64)", "Cookie id of the browser.", "nn"),
            col("customer_id", "bigint", "Set once the visitor logs in."),
            col("session_id", "varchar(64)", "30-minute inactivity session.", "nn"),
            col("event_type", "varchar(40)", "page_view, add_to_cart, checkout_started, ...", "nn"),
            col("page_url", "text", "URL of the page."),
            col("referrer", "text", "HTTP referrer."),
            col("utm_source", "varchar(100)", "Campaign source."),
            col("utm_medium", "varchar(100)", "Campaign medium."),
            col("utm_campaign", "varchar(100)", "Campaign name."),
            col("ip_address", "inet", "Client IP address.", "pii"),
            col("user_agent", "text", "Browser user agent."),
            col("occurred_at", "timestamptz", "When the event happened in the browser.", "nn"),
        ],
    }


_RAW_DOC = {
    "customers": "Customer accounts from the **Shopify** storefront, one row per account.",
    "customer_addresses": "Saved addresses of Shopify customers.",
    "product_categories": "The storefront's category tree (`parent_category_id`).",
    "suppliers": "Suppliers from the NetSuite ERP.",
    "products": "Product variants from Shopify, with cost from NetSuite.",
    "orders": "Orders from Shopify, one row per completed checkout.",
    "order_items": "Order lines: one row per product variant in an order.",
    "payments": "Payment attempts from **Stripe**, including failures.",
    "refunds": "Refunds issued through Stripe.",
    "shipments": "Fulfilments from the ShipBob 3PL.",
    "inventory": "Nightly stock snapshot per product and fulfilment centre.",
    "web_events": "Clickstream from **Segment**; high volume, partitioned by day.",
    "promotions": "Discount codes and the campaigns they belong to.",
}
_RAW_FROM = {
    "suppliers": "the Fivetran NetSuite connector",
    "shipments": "`shopify_ingest`",
    "inventory": "the Fivetran NetSuite connector",
    "web_events": "the Kafka `clickstream` topic",
    "payments": "`stripe_sync`",
    "refunds": "`stripe_sync`",
}
_RAW_OPTS: dict[str, Body] = {
    "customers": {
        "pk": ("customer_id",),
        "tier": 1,
        "terms": ("Customer",),
        "props": {"retention_days": 2555, "pii_reviewed": True, "refresh_cadence": "hourly"},
        "sample": (
            ["customer_id", "email", "first_name", "country_code", "accepts_marketing"],
            [
                [5104, "jane.doe@example.com", "Jane", "US", True],
                [5105, "k.tanaka@example.org", "Kenji", "CA", False],
                [5106, "m.rossi@example.net", "Marta", "US", True],
            ],
        ),
    },
    "customer_addresses": {
        "pk": ("address_id",),
        "fks": (("customer_id", "raw.customers", "customer_id"),),
        "props": {"retention_days": 2555, "pii_reviewed": True},
    },
    "product_categories": {
        "pk": ("category_id",),
        "tier": 3,
        "fks": (("parent_category_id", "raw.product_categories", "category_id"),),
    },
    "suppliers": {"pk": ("supplier_id",), "tier": 3, "team": "finance"},
    "products": {
        "pk": ("product_id",),
        "fks": (
            ("category_id", "raw.product_categories", "category_id"),
            ("supplier_id", "raw.suppliers", "supplier_id"),
        ),
    },
    "orders": {
        "pk": ("order_id",),
        "tier": 1,
        "terms": ("Order",),
        "fks": (
            ("customer_id", "raw.customers", "customer_id"),
            ("shipping_address_id", "raw.customer_addresses", "address_id"),
            ("promotion_code", "raw.promotions", "promotion_code"),
        ),
        "props": {"retention_days": 3650, "refresh_cadence": "hourly"},
        "sample": (
            ["order_id", "order_number", "customer_id", "status", "total", "placed_at"],
            [
                [880001, "#LH1042", 5104, "delivered", "128.40", "2024-03-02T14:21:07Z"],
                [880002, "#LH1043", None, "paid", "39.00", "2024-03-02T14:25:51Z"],
                [880003, "#LH1044", 5106, "cancelled", "212.15", "2024-03-02T15:02:13Z"],
            ],
        ),
    },
    "order_items": {
        "pk": ("order_item_id",),
        "fks": (
            ("order_id", "raw.orders", "order_id"),
            ("product_id", "raw.products", "product_id"),
        ),
    },
    "payments": {
        "pk": ("payment_id",),
        "tier": 1,
        "team": "finance",
        "fks": (("order_id", "raw.orders", "order_id"),),
        "props": {"retention_days": 3650, "pii_reviewed": True},
    },
    "refunds": {
        "pk": ("refund_id",),
        "team": "finance",
        "terms": ("Refund",),
        "fks": (
            ("payment_id", "raw.payments", "payment_id"),
            ("order_id", "raw.orders", "order_id"),
        ),
    },
    "shipments": {"pk": ("shipment_id",), "fks": (("order_id", "raw.orders", "order_id"),)},
    "inventory": {
        "pk": ("snapshot_date", "product_id", "warehouse_code"),
        "fks": (("product_id", "raw.products", "product_id"),),
        "props": {"retention_days": 730, "refresh_cadence": "daily"},
    },
    "web_events": {
        "pk": ("event_id",),
        "tier": 3,
        "team": "growth",
        "fks": (("customer_id", "raw.customers", "customer_id"),),
        "props": {"retention_days": 395, "pii_reviewed": False, "refresh_cadence": "hourly"},
    },
    "promotions": {"pk": ("promotion_code",), "tier": 3, "team": "growth"},
}


def _raw_tables(raw: dict[str, list[Body]]) -> list[Body]:
    out = []
    for name, columns in raw.items():
        opts = dict(_RAW_OPTS[name])
        loader = _RAW_FROM.get(name, "`shopify_ingest`")
        doc = f"{_RAW_DOC[name]}\n\nLanded as is by {loader}; do not query directly, use `staging`."
        team = opts.pop("team", "data-platform")
        out.append(table(f"raw.{name}", doc, columns, team=team, **opts))
    return out


def _view(name: str, source: str, doc: str, columns: list[Body], sql: str, **kw: Any) -> Body:
    text = f"{doc}\n\nA light view over `raw.{source}`: renamed, cast and filtered."
    return table(f"staging.{name}", text, columns, table_type="view", view_sql=sql, tier=3, **kw)


def _staging(raw: dict[str, list[Body]]) -> list[Body]:
    r = raw
    return [
        _view(
            "stg_customers",
            "customers",
            "Customers with normalised e-mail.",
            pick(r["customers"], "customer_id", "email", "first_name", "last_name", "phone")
            + pick(r["customers"], "accepts_marketing", "country_code", signed_up_at="created_at"),
            "SELECT customer_id, lower(trim(email)) AS email, first_name, last_name, phone,\n"
            "       accepts_marketing, upper(country_code) AS country_code,\n"
            "       created_at AS signed_up_at\nFROM raw.customers",
            team="analytics",
            props={"pii_reviewed": True},
        ),
        _view(
            "stg_orders",
            "orders",
            "Orders without test orders, with the order date in store time.",
            pick(r["orders"], "order_id", "order_number", "customer_id", "status")
            + pick(r["orders"], "subtotal", "discount_total", "promotion_code", "placed_at")
            + pick(r["orders"], order_total="total")
            + [col("order_date", "date", "placed_at in America/Los_Angeles.", "nn")],
            "SELECT order_id, order_number, customer_id, status, subtotal, discount_total,\n"
            "       promotion_code, placed_at, total AS order_total,\n"
            "       (placed_at AT TIME ZONE 'America/Los_Angeles')::date AS order_date\n"
            "FROM raw.orders\nWHERE order_number NOT LIKE 'TEST%'",
            team="analytics",
        ),
        _view(
            "stg_order_items",
            "order_items",
            "Order lines with the line total.",
            pick(r["order_items"], "order_item_id", "order_id", "product_id", "quantity")
            + pick(r["order_items"], "unit_price", "discount")
            + [col("line_total", "numeric(12,2)", "quantity * unit_price - discount.", "nn")],
            "SELECT order_item_id, order_id, product_id, quantity, unit_price, discount,\n"
            "       quantity * unit_price - discount AS line_total\nFROM raw.order_items",
            team="analytics",
        ),
        _view(
            "stg_products",
            "products",
            "Active and retired products with their category name.",
            pick(r["products"], "product_id", "sku", "category_id", "supplier_id")
            + pick(r["products"], "list_price", "unit_cost", "is_active", product_name="name")
            + [col("category_name", "varchar(120)", "Name of the category.")],
            "SELECT p.product_id, p.sku, p.category_id, p.supplier_id, p.list_price,\n"
            "       p.unit_cost, p.is_active, p.name AS product_name, c.name AS category_name\n"
            "FROM raw.products p\nLEFT JOIN raw.product_categories c USING (category_id)",
            team="analytics",
        ),
        _view(
            "stg_payments",
            "payments",
            "Successful payments only.",
            pick(r["payments"], "payment_id", "order_id", "amount", "currency", "processor_fee")
            + pick(r["payments"], payment_method="method", paid_at="created_at"),
            "SELECT payment_id, order_id, amount, currency, processor_fee,\n"
            "       method AS payment_method, created_at AS paid_at\n"
            "FROM raw.payments\nWHERE status = 'succeeded'",
            team="finance",
        ),
        _view(
            "stg_refunds",
            "refunds",
            "Refunds with the amount named for what it is.",
            pick(r["refunds"], "refund_id", "payment_id", "order_id", "reason")
            + pick(r["refunds"], refund_amount="amount", refunded_at="created_at"),
            "SELECT refund_id, payment_id, order_id, reason, amount AS refund_amount,\n"
            "       created_at AS refunded_at\nFROM raw.refunds",
            team="finance",
        ),
        _view(
            "stg_shipments",
            "shipments",
            "Shipments with the time spent in transit.",
            pick(r["shipments"], "shipment_id", "order_id", "carrier", "status")
            + pick(r["shipments"], "shipping_cost", "shipped_at", "delivered_at")
            + [col("transit_time", "interval", "delivered_at - shipped_at.")],
            "SELECT shipment_id, order_id, upper(carrier) AS carrier, status, shipping_cost,\n"
            "       shipped_at, delivered_at, delivered_at - shipped_at AS transit_time\n"
            "FROM raw.shipments",
            team="analytics",
        ),
        _view(
            "stg_web_events",
            "web_events",
            "Clickstream without bots and without the IP address.",
            pick(r["web_events"], "event_id", "session_id", "customer_id", "event_type")
            + pick(r["web_events"], "utm_source", "utm_medium", "utm_campaign", "occurred_at"),
            "SELECT event_id, session_id, customer_id, event_type, utm_source, utm_medium,\n"
            "       utm_campaign, occurred_at\nFROM raw.web_events\n"
            "WHERE user_agent NOT ILIKE '%bot%'",
            team="growth",
        ),
    ]


def source_tables() -> list[Body]:
    """The raw and staging tables, raw first, so foreign keys point backwards where they can."""
    raw = _raw()
    return _raw_tables(raw) + _staging(raw)
