-- Singular test: a payment is never negative.
select * from {{ ref('raw_payments') }} where amount < 0
