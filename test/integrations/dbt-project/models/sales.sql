-- depends_on: {{ ref('raw_orders') }}
{% if var('break_sales', false) %}
select * from {{ source('shop', 'raw_orders') }} where no_such_column > 0
{% else %}
select order_id, amount, status from {{ source('shop', 'raw_orders') }}
{% endif %}
