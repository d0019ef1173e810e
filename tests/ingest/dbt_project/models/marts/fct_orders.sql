{{ config(materialized='incremental', unique_key='order_id', alias='orders_fact') }}

with payments as (
    select order_id, sum(amount) as amount
    from {{ ref('raw_payments') }}
    group by order_id
)
select
    o.order_id,
    o.customer_id,
    o.order_date,
    o.status,
    coalesce(p.amount, 0) as amount,
    coalesce(i.item_count, 0) as item_count
from {{ ref('stg_orders') }} as o
left join payments as p on p.order_id = o.order_id
left join {{ ref('int_order_items') }} as i on i.order_id = o.order_id
{% if is_incremental() %}
where o.order_date > (select max(order_date) from {{ this }})
{% endif %}
