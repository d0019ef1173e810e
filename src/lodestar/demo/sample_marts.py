"""Tables of the `marts` schema of the demo warehouse: the dbt facts and dimensions."""

from __future__ import annotations

from lodestar.demo.sample_tables import Body, col, table


def mart_tables() -> list[Body]:
    """The dbt marts: dimensions first, then the facts and aggregates built on them."""
    money = "numeric(14,2)"
    return [
        table(
            "marts.dim_customers",
            "One row per customer, with order history rolled up.\n\n"
            "- `customer_segment`: *new*, *repeat*, *vip* (top 5% by net revenue) or *lapsed*\n"
            "- Guest checkouts are not customers and are not here.",
            [
                col("customer_id", "bigint", "Customer id.", "", "Customer"),
                col("email", "varchar(320)", "Normalised e-mail.", "nn pii"),
                col("full_name", "varchar(201)", "First and last name.", "pii"),
                col("country_code", "char(2)", "Country of the default address.", "pii-ns"),
                col("signed_up_at", "timestamptz", "Account creation.", "nn"),
                col("first_order_at", "timestamptz", "First completed order."),
                col("last_order_at", "timestamptz", "Most recent completed order."),
                col("lifetime_orders", "integer", "Completed orders to date.", "nn"),
                col("customer_segment", "varchar(20)", "new, repeat, vip or lapsed.", "nn"),
            ],
            team="analytics",
            steward="priya_raman",
            tier=1,
            pk=("customer_id",),
            terms=("Customer",),
            domain="Marketing",
            props={"pii_reviewed": True, "refresh_cadence": "daily"},
        ),
        table(
            "marts.dim_products",
            "Products with category, supplier and margin.",
            [
                col("product_id", "bigint", "Product variant id."),
                col("sku", "varchar(64)", "Stock keeping unit.", "nn uniq"),
                col("product_name", "varchar(255)", "Product title.", "nn"),
                col("category_name", "varchar(120)", "Leaf category."),
                col("supplier_name", "varchar(200)", "Supplier."),
                col("list_price", "numeric(10,2)", "Current list price, USD.", "nn"),
                col("unit_cost", "numeric(10,2)", "Landed cost, USD."),
                col("gross_margin_pct", "numeric(5,2)", "(list_price - unit_cost) / list_price."),
                col("is_active", "boolean", "Listed on the storefront.", "nn"),
            ],
            team="analytics",
            pk=("product_id",),
            props={"refresh_cadence": "daily"},
        ),
        table(
            "marts.dim_date",
            "Calendar days from 2018 to 2030 with the retail calendar (4-5-4).",
            [
                col("date_day", "date", "The day."),
                col(
                    "fiscal_year", "smallint", "Fiscal year; starts on the Sunday near Feb 1.", "nn"
                ),
                col("fiscal_quarter", "smallint", "1 to 4.", "nn"),
                col("month", "smallint", "Calendar month.", "nn"),
                col("iso_week", "smallint", "ISO 8601 week.", "nn"),
                col("is_weekend", "boolean", "Saturday or Sunday.", "nn"),
                col("is_holiday", "boolean", "US federal holiday or Black Friday.", "nn"),
            ],
            team="data-platform",
            tier=3,
            pk=("date_day",),
        ),
        table(
            "marts.fct_orders",
            "**The** order fact: one row per order, amounts in USD.\n\n"
            "`net_revenue` is what finance reports: after discounts and refunds, "
            "before tax and shipping. See the glossary term *Net Revenue*.",
            [
                col("order_id", "bigint", "Order id.", "", "Order"),
                col("customer_id", "bigint", "Buyer; null for guests."),
                col("order_date", "date", "Order date in store time.", "nn"),
                col("status", "varchar(20)", "Latest order status.", "nn"),
                col("item_count", "integer", "Units in the order.", "nn"),
                col("gross_revenue", money, "Subtotal before discounts.", "nn", "Revenue"),
                col("discount_total", money, "All discounts.", "nn"),
                col("refund_total", money, "Refunded so far.", "nn", "Refund"),
                col("net_revenue", money, "gross - discounts - refunds.", "nn", "Net Revenue"),
                col("is_first_order", "boolean", "The customer's first order.", "nn"),
            ],
            team="analytics",
            steward="daniel_okafor",
            tier=1,
            pk=("order_id",),
            fks=(
                ("customer_id", "marts.dim_customers", "customer_id"),
                ("order_date", "marts.dim_date", "date_day"),
            ),
            terms=("Order", "Revenue"),
            domain="Sales",
            props={"retention_days": 3650, "pii_reviewed": True, "refresh_cadence": "hourly"},
            sample=(
                ["order_id", "order_date", "status", "gross_revenue", "net_revenue"],
                [
                    [880001, "2024-03-02", "delivered", "119.00", "109.00"],
                    [880002, "2024-03-02", "paid", "35.00", "35.00"],
                    [880004, "2024-03-03", "delivered", "64.50", "58.05"],
                ],
            ),
        ),
        table(
            "marts.fct_order_items",
            "Order lines with cost and margin, for product analytics.",
            [
                col("order_item_id", "bigint", "Line id."),
                col("order_id", "bigint", "Order.", "nn"),
                col("product_id", "bigint", "Product variant.", "nn"),
                col("order_date", "date", "Order date in store time.", "nn"),
                col("quantity", "integer", "Units.", "nn"),
                col("line_total", money, "Revenue of the line after discounts.", "nn", "Revenue"),
                col("cost_total", money, "quantity * unit_cost."),
                col("gross_margin", money, "line_total - cost_total."),
            ],
            team="analytics",
            pk=("order_item_id",),
            fks=(
                ("order_id", "marts.fct_orders", "order_id"),
                ("product_id", "marts.dim_products", "product_id"),
            ),
            domain="Sales",
        ),
        table(
            "marts.fct_payments",
            "Captured payments with refunds netted, for the finance close.",
            [
                col("payment_id", "varchar(64)", "Stripe PaymentIntent id."),
                col("order_id", "bigint", "Order paid for.", "nn"),
                col("payment_method", "varchar(20)", "card, paypal, klarna, gift_card.", "nn"),
                col("amount", money, "Captured amount, USD.", "nn"),
                col("processor_fee", money, "Stripe fee, USD."),
                col("refunded_amount", money, "Refunded against the payment.", "nn", "Refund"),
                col("paid_at", "timestamptz", "Capture time.", "nn"),
            ],
            team="finance",
            steward="lucas_moreau",
            tier=1,
            pk=("payment_id",),
            fks=(("order_id", "marts.fct_orders", "order_id"),),
            domain="Sales",
            props={"retention_days": 3650, "refresh_cadence": "daily"},
        ),
        table(
            "marts.fct_sessions",
            "Web sessions with attribution and whether they converted.",
            [
                col("session_id", "varchar(64)", "Session id."),
                col("customer_id", "bigint", "Known customer, if logged in."),
                col("started_at", "timestamptz", "First event.", "nn"),
                col("page_views", "integer", "page_view events.", "nn"),
                col("utm_source", "varchar(100)", "Source of the first event."),
                col("utm_campaign", "varchar(100)", "Campaign of the first event."),
                col("converted", "boolean", "Placed an order.", "nn", "Conversion Rate"),
                col("order_id", "bigint", "The order placed, if any."),
            ],
            team="growth",
            steward="sofia_alvarez",
            pk=("session_id",),
            fks=(("order_id", "marts.fct_orders", "order_id"),),
            domain="Marketing",
            props={"retention_days": 395},
        ),
        table(
            "marts.customer_lifetime_value",
            "Historical and predicted value per customer.\n\n"
            "`predicted_12m_value` and `churn_probability` come from the MLflow model "
            "`churn_predictor`, scored nightly.",
            [
                col("customer_id", "bigint", "Customer id."),
                col("first_order_date", "date", "Cohort date."),
                col("orders_count", "integer", "Completed orders.", "nn"),
                col("total_net_revenue", money, "Net revenue to date.", "nn", "Net Revenue"),
                col("avg_order_value", money, "Net revenue / orders.", "", "Average Order Value"),
                col("predicted_12m_value", money, "Expected net revenue, next 12 months."),
                col("churn_probability", "numeric(5,4)", "P(no order in 180 days).", "", "Churn"),
                col("scored_at", "timestamptz", "Model scoring run.", "nn"),
            ],
            team="analytics",
            steward="priya_raman",
            tier=1,
            pk=("customer_id",),
            fks=(("customer_id", "marts.dim_customers", "customer_id"),),
            terms=("Lifetime Value", "Churn"),
            domain="Marketing",
            props={"refresh_cadence": "daily"},
        ),
        table(
            "marts.daily_revenue",
            "Revenue per day, the source of the executive dashboard.\n\n"
            "Materialized view, refreshed by `dbt_nightly` and at the top of every hour.",
            [
                col("order_date", "date", "Day, store time."),
                col("orders", "integer", "Orders placed.", "nn"),
                col("customers", "integer", "Distinct buyers incl. guests.", "nn"),
                col("gross_revenue", money, "Before discounts.", "nn", "Revenue"),
                col("net_revenue", money, "After discounts and refunds.", "nn", "Net Revenue"),
                col("avg_order_value", money, "net_revenue / orders.", "", "Average Order Value"),
            ],
            team="finance",
            steward="lucas_moreau",
            tier=1,
            pk=("order_date",),
            table_type="materialized_view",
            view_sql=(
                "SELECT order_date, count(*) AS orders,\n"
                "       count(DISTINCT coalesce(customer_id::text, order_id::text)) AS customers,\n"
                "       sum(gross_revenue) AS gross_revenue, sum(net_revenue) AS net_revenue,\n"
                "       round(sum(net_revenue) / nullif(count(*), 0), 2) AS avg_order_value\n"
                "FROM marts.fct_orders\nWHERE status <> 'cancelled'\nGROUP BY order_date"
            ),
            terms=("Revenue",),
            domain="Sales",
            props={"refresh_cadence": "hourly"},
            sample=(
                ["order_date", "orders", "customers", "net_revenue", "avg_order_value"],
                [
                    ["2024-03-01", 412, 398, "38211.70", "92.75"],
                    ["2024-03-02", 455, 431, "41730.15", "91.71"],
                    ["2024-03-03", 389, 377, "35020.40", "90.03"],
                ],
            ),
        ),
        table(
            "marts.inventory_health",
            "Stock cover per product and fulfilment centre, for the buying team.",
            [
                col("snapshot_date", "date", "Stock count day."),
                col("product_id", "bigint", "Product."),
                col("warehouse_code", "varchar(10)", "Fulfilment centre."),
                col("available_units", "integer", "on_hand - reserved.", "nn"),
                col("days_of_cover", "numeric(8,1)", "available / 28-day average daily sales."),
                col("below_reorder_point", "boolean", "Needs a purchase order.", "nn"),
            ],
            team="analytics",
            tier=3,
            pk=("snapshot_date", "product_id", "warehouse_code"),
            fks=(("product_id", "marts.dim_products", "product_id"),),
        ),
    ]
