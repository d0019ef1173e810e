{{ config(materialized='ephemeral') }}

select order_id, count(*) as item_count
from {{ source('shop', 'items') }}
group by order_id
